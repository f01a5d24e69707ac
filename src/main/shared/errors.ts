/**
 * Expected errors carry a stable `code` and a user-facing `message`; `detail` is for logs only.
 * Bugs stay plain `Error`s; cancellation has its own class so the UI can stay silent about it.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ONNX_INVALID'
  | 'ONNX_EXTERNAL_DATA'
  | 'ONNX_UNSUPPORTED'
  | 'SCOPE_NOT_FOUND'
  | 'NO_GRADIENT_RULE'
  | 'SHAPE_ERROR'
  | 'NPY_INVALID'
  | 'RUNTIME_ERROR'
  /** A dataset's annotation files are malformed or inconsistent (file and entry named). */
  | 'DATASET_INVALID'
  /** An image file is missing, corrupt, truncated or not an image. */
  | 'IMAGE_INVALID'
  /** Two things would get the same name (e.g. a dataset name already in use). */
  | 'CONFLICT'
  /** The database was written by a newer version of the workstation. */
  | 'STORE_VERSION'
  /** The database file is not ours, not SQLite, or damaged. */
  | 'STORE_INVALID'
  /** The database stayed locked by another writer for longer than we wait. */
  | 'STORE_BUSY'
  /** The work would need more memory than the machine has free (said before it starts). */
  | 'OUT_OF_MEMORY'
  /** A job's process ended before its work (killed by the system, crashed). */
  | 'PROCESS_GONE'
  | 'CANCELLED'
  | 'INTERNAL';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
  }
}

/**
 * An expected error about one field of a request (a form input): the UI shows the message next to
 * that field. `field` is the argument's name as the contract spells it (e.g. `root`, `name`).
 */
export class FieldError extends AppError {
  readonly field: string;
  constructor(code: ErrorCode, field: string, message: string, detail?: string) {
    super(code, message, detail);
    this.name = 'FieldError';
    this.field = field;
  }
}

export class CancelledError extends AppError {
  constructor(message = 'Cancelled') {
    super('CANCELLED', message);
    this.name = 'CancelledError';
  }
}

/**
 * The serialised form every transport carries to a client: code, message and field only. Never
 * `detail` or a stack, which are for the engine's log (shared/log.ts).
 */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  /** The request field the error is about, when it is about one (forms show it inline). */
  field?: string;
}

/**
 * An error crossing a boundary inside the engine (job process, worker thread -> the parent): the
 * client's part plus what only the parent's log gets. Never put one on a transport: send
 * `serializeError(deserializeError(e))` instead.
 */
export interface CarriedError extends SerializedError {
  /** The AppError's log-only detail. */
  detail?: string;
  /** Where it was thrown, on the other side (bugs: the parent logs it). */
  stack?: string;
}

/** What a client is told about `err`: a fresh object, so nothing log-only rides along. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof FieldError) return { code: err.code, message: err.message, field: err.field };
  if (err instanceof AppError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

/** `err` for the other side of an engine-internal boundary: `serializeError` plus detail and stack. */
export function carryError(err: unknown): CarriedError {
  const out: CarriedError = serializeError(err);
  if (err instanceof AppError && err.detail !== undefined) out.detail = err.detail;
  // expected errors are told by code and message; a bug's stack is the one clue to where it was
  if (err instanceof Error && err.stack && (!(err instanceof AppError) || err.code === 'INTERNAL')) out.stack = err.stack;
  return out;
}

/**
 * The error a serialised one stands for (across a worker boundary): field, cancellation, detail
 * and the far side's stack kept, so the parent's log says what the child knew.
 */
export function deserializeError(e: CarriedError): AppError {
  const err = e.code === 'CANCELLED' ? new CancelledError(e.message) : e.field !== undefined ? new FieldError(e.code, e.field, e.message, e.detail) : new AppError(e.code, e.message, e.detail);
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

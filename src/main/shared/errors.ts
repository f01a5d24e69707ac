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
  /** A request carries more than the engine accepts (the message names the limit): HTTP's 413. */
  | 'TOO_LARGE'
  /** The disk (or the user's quota) is full: what could not be written and its folder are named. */
  | 'DISK_FULL'
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

/** The `code` of an error from Node's fs or from SQLite (better-sqlite3), if it has one. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The operating system (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL) says the disk or the quota is full. */
export function isDiskFullError(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** SQLite says a database file is damaged (SQLITE_CORRUPT*) or not a database at all (SQLITE_NOTADB). */
export function isStoreCorruptionError(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

/**
 * DISK_FULL for a write that failed on a full disk: `what` names what could not be written (a
 * file, "a backup of ..."), `folder` where it was going.
 */
export function diskFullError(what: string, folder: string | undefined, err: unknown): AppError {
  const quota = codeOf(err) === 'EDQUOT';
  const where = folder === undefined ? '' : ` in ${folder}`;
  const message = `could not write ${what}${where}: ${quota ? 'the disk quota is used up' : 'the disk is full'}; free some space on that disk and try again`;
  return new AppError('DISK_FULL', message, err instanceof Error ? err.message : String(err));
}

/** Turns an error a lower layer knows better (the store: which database, its backups) into an AppError. */
export type ErrorExplainer = (err: unknown) => AppError | undefined;
const explainers = new Set<ErrorExplainer>();

/**
 * Registers `fn` with `explainError` (the store registers one naming the open database and its
 * newest backup); returns the function that removes it again.
 */
export function addErrorExplainer(fn: ErrorExplainer): () => void {
  explainers.add(fn);
  return () => {
    explainers.delete(fn);
  };
}

/**
 * `err` as the user should hear of it: an AppError stays as it is; a damaged database or a full
 * disk (raw errors from SQLite or the file system, which are the user's machine, not a bug)
 * becomes STORE_INVALID or DISK_FULL, through a registered explainer where one knows more.
 * Anything else is returned unchanged.
 */
export function explainError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (!isDiskFullError(err) && !isStoreCorruptionError(err)) return err;
  for (const fn of explainers) {
    const e = fn(err);
    if (e) return e;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (isStoreCorruptionError(err)) {
    return new AppError('STORE_INVALID', `the database is damaged (SQLite reports: ${message}); close the workstation and restore a backup (\`sd4match db restore\`)`, message);
  }
  const file = (err as { path?: unknown }).path;
  return diskFullError(typeof file === 'string' ? file : 'a file', undefined, err);
}

/** What a client is told about `err`: a fresh object, so nothing log-only rides along. */
export function serializeError(err: unknown): SerializedError {
  err = explainError(err);
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

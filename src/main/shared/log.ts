/**
 * The engine's error log: where what a client is never shown ends up (an AppError's `detail`, a
 * bug's stack), on every transport (WebSocket, Electron IPC, in-memory), for failed jobs, and for
 * errors carried out of job processes and worker threads.
 *
 * The sink is stderr (`console.error`: the terminal of `sd4match serve`, Electron's main-process
 * output); tests swap it with `setLogSink` to read what was logged. No imports beyond errors.ts:
 * shared/ is loaded by the renderer too.
 */
import { AppError, isAppError } from './errors.js';

/** Receives one record per logged error (possibly several lines). */
export type LogSink = (record: string) => void;

const stderrSink: LogSink = (record) => console.error(record);
let sink: LogSink = stderrSink;

/** Sends records to `next` until the returned function restores the previous sink. */
export function setLogSink(next: LogSink): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}

/** A bug, not an expected error: a plain Error, or an INTERNAL one carried across a boundary. */
function isBug(err: unknown): boolean {
  return !isAppError(err) || err.code === 'INTERNAL';
}

/**
 * Whether `err` holds anything a client was not told: a bug (its stack), or an expected error with
 * a detail. Cancellations and detail-less expected errors do not (the client has all of them).
 */
export function worthLogging(err: unknown): boolean {
  if (isAppError(err) && err.code === 'CANCELLED') return false;
  return isBug(err) || (err instanceof AppError && err.detail !== undefined && err.detail !== '');
}

/** The record of `err`: where, code, message, detail, and for bugs the stack. */
export function formatError(where: string, err: unknown): string {
  const code = err instanceof AppError ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`${where}: ${code}: ${message}`];
  if (err instanceof AppError && err.detail) lines.push(`  detail: ${err.detail.replaceAll('\n', '\n    ')}`);
  if (isBug(err) && err instanceof Error && err.stack) lines.push(`  ${err.stack.replaceAll('\n', '\n  ')}`);
  return lines.join('\n');
}

/**
 * Logs `err` if it holds anything the client was not told (see `worthLogging`). `where` names the
 * call or job, e.g. `handler for 'runs:train'`.
 */
export function logError(where: string, err: unknown): void {
  if (!worthLogging(err)) return;
  try {
    sink(formatError(where, err));
  } catch {
    // a broken sink must not turn an error report into a second failure
  }
}

/**
 * The one place errors become UI: a toast with the engine's message, nothing for cancellations
 * (the user asked for them) nor for calls cut off while the engine is away (the status bar says so). Forms use `formError` to put a message next to the input the engine
 * blamed.
 */
import { ApiError, describeError } from './api.js';
import { backend } from './state/backend.svelte.js';
import { toasts } from './state/toasts.svelte.js';

export function isCancellation(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'CANCELLED';
}

/** Shows `err` as an error toast titled with what was being done; silent for cancellations. */
export function handleError(err: unknown, doing: string): void {
  const message = describeError(err);
  if (message === null) return;
  // the status bar says the engine is away (and everything is read again when it is back)
  if (err instanceof ApiError && err.code === 'TRANSPORT' && backend.connectionLost !== null) return;
  if (!(err instanceof ApiError)) console.error(`${doing}:`, err);
  toasts.error(doing, message);
}

/**
 * Runs `fn` and turns a failure into UI the one way (`handleError`: a toast titled `doing`,
 * nothing for cancellations); never rejects. Resolves with `fn`'s result, or `fallback` when it
 * failed. Replaces the views' and states' try/catch-to-toast blocks; forms keep `formError`.
 *
 * @example const ok = await attempt(`Deleting ${name}`, async () => { await api.invoke('runs:delete', { id }); return true; }, false);
 */
export async function attempt<T>(doing: string, fn: () => Promise<T>): Promise<T | undefined>;
export async function attempt<T, F>(doing: string, fn: () => Promise<T>, fallback: F): Promise<T | F>;
export async function attempt<T, F>(doing: string, fn: () => Promise<T>, fallback?: F): Promise<T | F | undefined> {
  try {
    return await fn();
  } catch (err) {
    handleError(err, doing);
    return fallback;
  }
}

/** A form's view of an error: the field it is about (if the engine named one) and the message. */
export interface FormError {
  field: string | null;
  message: string;
}

/** Null for cancellations. */
export function formError(err: unknown): FormError | null {
  const message = describeError(err);
  if (message === null) return null;
  return { field: err instanceof ApiError ? (err.field ?? null) : null, message };
}

/**
 * The one place errors become UI: a toast with the engine's message, nothing for cancellations
 * (the user asked for them). Forms use `formError` to put a message next to the input the engine
 * blamed.
 */
import { ApiError, describeError } from './api.js';
import { toasts } from './state/toasts.svelte.js';

export function isCancellation(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'CANCELLED';
}

/** Shows `err` as an error toast titled with what was being done; silent for cancellations. */
export function handleError(err: unknown, doing: string): void {
  const message = describeError(err);
  if (message === null) return;
  if (!(err instanceof ApiError)) console.error(`${doing}:`, err);
  toasts.error(doing, message);
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

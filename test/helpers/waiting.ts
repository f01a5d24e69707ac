/** Waiting on a running engine in tests: unwrap an API envelope, poll until something holds. */
import type { Envelope } from '../../src/main/contract/index.js';

/** The result of an API call, or a thrown `CODE: message` naming what went wrong. */
export function ok<T>(e: Envelope<T> | { result?: unknown; error?: { code: string; message: string } }): T {
  if ('error' in e && e.error) throw new Error(`${e.error.code}: ${e.error.message}`);
  return (e as { result: T }).result;
}

/** Polls `f` until it gives something other than undefined or false, and resolves with it. */
export async function waitFor<T>(f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

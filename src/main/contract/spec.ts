/** Building blocks of the API contract, shared by the domain modules (no engine imports). */
import { z } from 'zod';

/** One invoke method: its argument schema, and its result type carried at the type level only. */
export interface MethodSpec<Args extends z.ZodType, Result> {
  readonly args: Args;
  /** Phantom field: never set at run time, only carries the result type. */
  readonly __result?: Result;
}

export function method<Result>() {
  return <Args extends z.ZodType>(args: Args): MethodSpec<Args, Result> => ({ args });
}

/**
 * A path on the engine's machine, as text: trimmed, at most 4096 characters, and without a NUL byte
 * (no file name can hold one, and Node's file functions would throw on it with an error that
 * reads as a bug). `what` completes the message for an empty one: 'choose <what>'.
 */
export function pathText(what: string) {
  return z
    .string()
    .trim()
    .min(1, `choose ${what}`)
    .max(4096, `${what} is longer than 4096 characters`)
    .refine((s) => !s.includes('\0'), 'the path contains a NUL byte, which no file path can hold');
}

/** Arguments of a method that takes none: `{}` (extra keys are a caller bug). */
export const noArgs = z.object({}).strict();

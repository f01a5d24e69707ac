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

/** Arguments of a method that takes none: `{}` (extra keys are a caller bug). */
export const noArgs = z.object({}).strict();

/**
 * Requests to the long-lived inference process (Compare's predictions and heatmaps, the memory
 * estimates), typed by the method of CompareService that answers them in that process.
 */
import type { AppContext } from '../app/app.js';
import type { InferenceMethod } from './inference-task.js';
import type { CompareService } from './inference.js';

export type InferenceArgs<K extends InferenceMethod> = Parameters<CompareService[K]>[0];
export type InferenceResult<K extends InferenceMethod> = Awaited<ReturnType<CompareService[K]>>;

/** Asks the context's inference process (started on first use) to run `method` with `args`. */
export function askInference<K extends InferenceMethod>(ctx: AppContext, method: K, args: InferenceArgs<K>): Promise<InferenceResult<K>> {
  return ctx.inference().request<InferenceResult<K>>(method, args);
}

/**
 * The `inference` task (job process): serves Compare requests and memory estimates, one at a time,
 * until told to stop (see engine/jobs/inference-host.ts), keeping models and sessions warm.
 */
import { parentPort } from 'node:worker_threads';
import { carryError } from '../../shared/errors.js';
import { openServices } from '../app/context.js';
import { CompareService } from './inference.js';

/** The requests the inference process answers: CompareService's methods by name. */
export const INFERENCE_METHODS = ['predict', 'heatmap', 'estimateFeatures', 'estimateTraining', 'estimateGeneration'] as const;
export type InferenceMethod = (typeof INFERENCE_METHODS)[number];

export async function inferenceTask(p: { db?: string }): Promise<null> {
  const svc = openServices(p.db, { job: true });
  const compare = new CompareService(svc);
  const port = parentPort!;
  let queue: Promise<unknown> = Promise.resolve();
  await new Promise<void>((stop) => {
    port.on('message', (m: { type: string; id?: number; method?: string; args?: unknown }) => {
      if (m.type === 'stop') {
        void queue.then(() => stop());
        return;
      }
      if (m.type !== 'request') return;
      // one request at a time: sessions are not shared across concurrent runs
      queue = queue.then(async () => {
        try {
          const method = m.method as InferenceMethod;
          if (!INFERENCE_METHODS.includes(method)) throw new Error(`unknown inference method '${m.method}'`);
          const result = await compare[method](m.args as never);
          port.postMessage({ type: 'response', id: m.id, result });
        } catch (err) {
          port.postMessage({ type: 'response', id: m.id, error: carryError(err) });
        }
      });
    });
    port.postMessage({ type: 'ready' });
  });
  await compare.dispose();
  svc.close();
  return null;
}

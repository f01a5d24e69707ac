/**
 * The `inference` task (job process): serves Compare requests and memory estimates, one at a time,
 * until told to stop (see engine/jobs/inference-host.ts), keeping models and sessions warm.
 */
import { answerRequests } from '../../engine/jobs/host-requests.js';
import { openServices } from '../app/context.js';
import { CompareService } from './inference.js';

/** The requests the inference process answers: CompareService's methods by name. */
export const INFERENCE_METHODS = ['predict', 'heatmap', 'estimateFeatures', 'estimateTraining', 'estimateGeneration'] as const;
export type InferenceMethod = (typeof INFERENCE_METHODS)[number];

export async function inferenceTask(p: { db?: string }): Promise<null> {
  const svc = openServices(p.db, { job: true });
  const compare = new CompareService(svc);
  await answerRequests(INFERENCE_METHODS, 'inference', (method, args) => compare[method](args as never));
  await compare.dispose();
  svc.close();
  return null;
}

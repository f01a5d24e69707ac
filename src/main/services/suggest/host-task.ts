/**
 * The `suggest-host` task (job process): Annotate's warm suggestion process. It keeps the model's
 * sessions open (one Suggester per model, prompt and feature settings) and the feature maps it
 * reads or computes in memory (up to a budget, in front of the disk cache), and answers requests
 * one at a time until told to stop (see engine/jobs/inference-host.ts, which supervises it):
 *  - `prefetch`: the features of a plan's target (the next image), and the exemplars' on the way;
 *    nothing is stored, so a later `suggest` of that image has only matching left to do. With
 *    `mirror` (the open image, about to be labelled), its mirrored features too: once labelled, it
 *    is matched mirrored as an exemplar;
 *  - `suggest`: suggestions for a plan's target, returned to the caller, which stores them;
 *  - `open`: opens the plan's model and pipeline only (the serve host, ahead of the first Suggest).
 * It holds no job of its own. Two run side by side (services/suggest/prefetch.ts): one serves the
 * user's suggestions, the other (`background`: lowest CPU priority) prefetches and is killed when
 * the user starts a job.
 */
import os from 'node:os';
import { answerRequests } from '../../engine/jobs/host-requests.js';
import { MemoryTensorCache } from '../../engine/cache/memory-tensor-cache.js';
import type { KeypointSuggestion } from '../../engine/suggest/suggest.js';
import { AppError } from '../../shared/errors.js';
import { openServices } from '../app/context.js';
import { Suggester, type SuggestPlan } from './plan.js';

/** Feature maps kept in memory: at most 1 GiB, and at most a sixteenth of the machine's memory. */
export const HOST_MEMORY_BYTES = Math.min(1 << 30, Math.floor(os.totalmem() / 16));

/** What the host answers for a request. */
export interface HostAnswer {
  /** Tensors computed for it (VAE moments, feature maps, DINOv2 tokens): 0 when everything was cached. */
  computed: number;
  /** Bytes of one feature map at the plan's settings (0 until one was seen). */
  featureBytes: number;
  seconds: number;
  /** `suggest` only: the target's suggestions and global descriptors. */
  suggestion?: { keypoints: KeypointSuggestion[]; descriptor: number[]; exemplarDescriptors: [number, number[]][] };
}

export const SUGGEST_HOST_METHODS = ['open', 'prefetch', 'suggest'] as const;
export type SuggestHostMethod = (typeof SUGGEST_HOST_METHODS)[number];

/** The parts of a plan that are the request's, not the model's, prompt's and features' (a warm Suggester answers for any of them). */
const PER_REQUEST: readonly string[] = ['datasetId', 'categoryId', 'category', 'schema', 'flipPairs', 'visibleThreshold', 'exemplars', 'targets'];

/** What decides the sessions and pipeline a plan needs: everything but its request's own parts. */
export function engineKey(plan: SuggestPlan): string {
  return JSON.stringify(Object.entries(plan).filter(([k]) => !PER_REQUEST.includes(k)));
}

export async function suggestHostTask(p: { db: string; background?: boolean }): Promise<null> {
  if (p.background) {
    // the lowest CPU priority for this thread and the ONNX Runtime threads it starts (they inherit it)
    try {
      os.setPriority(19);
    } catch {
      // not permitted here: it still yields to the user's jobs by being stopped (prefetch.ts)
    }
  }
  const svc = openServices(p.db, { job: true });
  const cache = new MemoryTensorCache(svc.tensors, HOST_MEMORY_BYTES);
  const warm = { ...svc, tensors: cache };
  let open: { key: string; suggester: Suggester } | null = null;
  const suggesterFor = async (plan: SuggestPlan): Promise<Suggester> => {
    const key = engineKey(plan);
    if (open?.key === key) return open.suggester;
    if (open) {
      await open.suggester.dispose();
      open = null;
      cache.clear();
    }
    open = { key, suggester: await Suggester.open(warm, plan) };
    return open.suggester;
  };
  const total = () => Object.values(cache.computed).reduce((t, n) => t + n, 0);
  const answer = async (method: SuggestHostMethod, plan: SuggestPlan, mirror = false): Promise<HostAnswer> => {
    const t = plan.targets[0];
    if (!t || plan.targets.length !== 1) throw new AppError('INTERNAL', `the suggestion host takes one image per request (got ${plan.targets.length})`);
    const s = await suggesterFor(plan);
    if (method === 'open') return { computed: 0, featureBytes: 0, seconds: 0 };
    const before = total();
    const started = performance.now();
    const r = await s.suggest(t, undefined, plan);
    // every exemplar is matched mirrored too (engine/suggest/suggest.ts), with or without symmetric pairs
    if (method === 'prefetch' && mirror) await s.suggest({ ...t, ref: { ...t.ref, flip: !t.ref.flip } }, undefined, plan);
    const out: HostAnswer = { computed: total() - before, featureBytes: cache.largest.features ?? cache.largest.dino ?? 0, seconds: (performance.now() - started) / 1000 };
    if (method === 'suggest') {
      out.suggestion = { keypoints: r.keypoints, descriptor: Array.from(r.descriptor), exemplarDescriptors: [...r.exemplarDescriptors].map(([id, d]) => [id, Array.from(d)]) };
    }
    return out;
  };

  await answerRequests(SUGGEST_HOST_METHODS, 'suggestion host', (method, args) => {
    const a = args as { plan: SuggestPlan; mirror?: boolean };
    return answer(method, a.plan, a.mirror);
  });
  // the type checker cannot see the assignment inside the closure
  const last = open as { suggester: Suggester } | null;
  await last?.suggester.dispose();
  svc.close();
  return null;
}

/**
 * A training step's data: which pairs (the run's data order: a seeded permutation per epoch, so a
 * resumed run draws the same pairs), and the step graph's feeds for them — cached VAE moments of
 * the 2B images (sources, then targets), fresh VAE and diffusion noise from the run's generator,
 * the noise schedule's coefficients at the run's timestep, and the keypoints' sampling plans.
 * The prompts' feeds come from the prompt kind (prompt-kinds/).
 */
import { concatBatch } from '../../graph/batching.js';
import type { HostTensor } from '../../onnx/ir.js';
import type { EvalPair } from '../matching/evaluate.js';
import type { Pipeline } from '../features/pipeline.js';
import type { Rng } from '../features/random.js';
import { noiseCoefficients } from './schedule.js';
import type { SdModel } from '../model/sd-model.js';
import type { StepGraph } from './step-graph-cache.js';

/** Where a run is in its data: the epoch, the position in its permutation of the training pairs. */
export interface DataOrder {
  epoch: number;
  cursor: number;
  perm: number[];
}

/** Keypoint rows per pair in the step graph: the most any training pair has, rounded up to 4. */
export function keypointRows(pairs: EvalPair[]): number {
  return Math.max(4, Math.ceil(Math.max(...pairs.map((p) => p.srcKps.length)) / 4) * 4);
}

/** The data order of a new run over n pairs. */
export function firstOrder(rng: Rng, n: number): DataOrder {
  return { epoch: 0, cursor: 0, perm: rng.permutation(n) };
}

/** The next `size` pairs in `order` (advanced in place), a new permutation at the end of each epoch. */
export function nextPairs(order: DataOrder, rng: Rng, train: EvalPair[], size: number): EvalPair[] {
  const out: EvalPair[] = [];
  while (out.length < size) {
    if (order.cursor >= order.perm.length) {
      order.epoch++;
      order.cursor = 0;
      order.perm = rng.permutation(train.length);
    }
    out.push(train[order.perm[order.cursor++]]);
  }
  return out;
}

/** Keypoints of a batch [B, N, 2] in the S x S image frame; rows past a pair's points are padding (-2). */
export function frameKeypoints(batch: EvalPair[], N: number, S: number): { srcKps: Float32Array; trgKps: Float32Array } {
  const srcKps = new Float32Array(batch.length * N * 2).fill(-2);
  const trgKps = new Float32Array(batch.length * N * 2).fill(-2);
  batch.forEach((p, b) => {
    p.srcKps.forEach(([x, y], i) => {
      srcKps[2 * (b * N + i)] = (x * S) / p.src.width;
      srcKps[2 * (b * N + i) + 1] = (y * S) / p.src.height;
    });
    p.trgKps.forEach(([x, y], i) => {
      trgKps[2 * (b * N + i)] = (x * S) / p.trg.width;
      trgKps[2 * (b * N + i) + 1] = (y * S) / p.trg.height;
    });
  });
  return { srcKps, trgKps };
}

export interface BatchSources {
  sd: SdModel;
  pipe: Pipeline;
  step: StepGraph;
  /** The run's generator: VAE and diffusion noise are drawn from it, in that order. */
  rng: Rng;
}

/** The step graph's feeds for `batch` except the prompts': latents, noise, timestep and sampling plans. */
export async function batchFeeds(s: BatchSources, batch: EvalPair[], o: { size: number; timestep: number; N: number }): Promise<Record<string, HostTensor>> {
  const n = 2 * batch.length;
  const images = [...batch.map((p) => p.src), ...batch.map((p) => p.trg)];
  const moments = await Promise.all(images.map((img) => s.pipe.moments(img)));
  const [, c2, h, w] = moments[0].dims;
  const c = c2 / 2;
  const eps: HostTensor = { dtype: 'float32', dims: [n, c, h, w], data: s.rng.normals(n * c * h * w) };
  const noise: HostTensor = { dtype: 'float32', dims: [n, c, h, w], data: s.rng.normals(n * c * h * w) };
  const kps = frameKeypoints(batch, o.N, o.size);
  const plans = s.step.plans({ ...kps, nPts: batch.map((p) => p.srcKps.length), N: o.N });
  const { signal, noise: sigma } = noiseCoefficients(o.timestep, s.sd.acp);
  return {
    moments: concatBatch(moments),
    eps,
    noise,
    noise_coefficients: { dtype: 'float32', dims: [2], data: Float32Array.from([signal, sigma]) },
    timestep: s.step.timestep(o.timestep),
    ...plans,
  };
}

/**
 * Suggested keypoints for one image from a category's labelled exemplars: every exemplar's visible
 * keypoints are matched into the target with the pipeline's features and kernel soft-argmax
 * (keeping each query's similarity peak), the matches are matched back into the exemplar (the
 * cycle check), and each schema keypoint's candidates are fused (fusion.ts). Features come from
 * the pipeline's caches, so once the exemplars are cached a suggestion costs the target's feature
 * pass (a CPM prompt's features depend on the pair: one pass per exemplar).
 */
import type { HostTensor } from '../onnx/ir.js';
import type { SessionCache } from '../onnx/session-cache.js';
import type { TaskContext } from '../jobs/progress.js';
import { matchKeypoints } from '../sd4match/matching/matching.js';
import type { ImageRef, Pipeline } from '../sd4match/features/pipeline.js';
import { type Candidate, fuseCandidates, FUSE_DEFAULTS } from './fusion.js';
import { globalDescriptor } from './ranking.js';

export interface Exemplar {
  imageId: number;
  ref: ImageRef;
  /** Visible labelled keypoints (schema index, image frame). */
  keypoints: { kp: number; x: number; y: number }[];
  /** Object size: bbox larger side, or the image's larger side. */
  scale: number;
}

export interface SuggestOptions {
  /** Larger side of the target's object, if known (default: the image's larger side). */
  scale?: number;
  visibleThreshold: number;
  sigmaFraction?: number;
  cycleSigma?: number;
}

export interface KeypointSuggestion {
  kp: number;
  x: number;
  y: number;
  confidence: number;
  visible: boolean;
  candidates: number;
  agreement: number;
}

export interface ImageSuggestion {
  keypoints: KeypointSuggestion[];
  /** The target's global descriptor (ranking.ts). */
  descriptor: Float32Array;
  /** Exemplars' global descriptors, by image id. */
  exemplarDescriptors: Map<number, Float32Array>;
}

function rowMax(corr: HostTensor, n: number): number {
  const data = corr.data as Float32Array;
  const hw = corr.dims[corr.dims.length - 1];
  let m = -Infinity;
  for (let i = n * hw; i < (n + 1) * hw; i++) if (data[i] > m) m = data[i];
  return m;
}

export async function suggestKeypoints(
  pipe: Pipeline,
  sessions: SessionCache,
  target: ImageRef,
  exemplars: readonly Exemplar[],
  category: string,
  opts: SuggestOptions,
  task?: TaskContext,
): Promise<ImageSuggestion> {
  const S = pipe.settings.size;
  const frame = { h: S, w: S };
  const perKp = new Map<number, Candidate[]>();
  const exemplarDescriptors = new Map<number, Float32Array>();
  let descriptor: Float32Array | null = null;
  for (const e of exemplars) {
    task?.token.throwIfCancelled();
    if (e.keypoints.length === 0) continue;
    const f = await pipe.pairFeatures(e.ref, target, category);
    descriptor ??= globalDescriptor(f.trg.data as Float32Array, f.trg.dims);
    if (!exemplarDescriptors.has(e.imageId)) exemplarDescriptors.set(e.imageId, globalDescriptor(f.src.data as Float32Array, f.src.dims));
    const N = e.keypoints.length;
    const srcKps = new Float32Array(e.keypoints.flatMap((k) => [(k.x * S) / e.ref.width, (k.y * S) / e.ref.height]));
    const fwd = await matchKeypoints(sessions, { srcFeatures: f.src, trgFeatures: f.trg, srcKps, N, srcFrame: frame, trgFrame: frame }, ['kernelsoftmax'], undefined, { correlation: true });
    const m = fwd.matches.kernelsoftmax!;
    const back = (await matchKeypoints(sessions, { srcFeatures: f.trg, trgFeatures: f.src, srcKps: m, N, srcFrame: frame, trgFrame: frame }, ['kernelsoftmax'])).matches.kernelsoftmax!;
    e.keypoints.forEach((k, i) => {
      const bx = (back[2 * i] * e.ref.width) / S;
      const by = (back[2 * i + 1] * e.ref.height) / S;
      const c: Candidate = {
        x: (m[2 * i] * target.width) / S,
        y: (m[2 * i + 1] * target.height) / S,
        peak: rowMax(fwd.correlation!, i),
        cycle: Math.hypot(bx - k.x, by - k.y) / e.scale,
      };
      const list = perKp.get(k.kp) ?? [];
      list.push(c);
      perKp.set(k.kp, list);
    });
  }
  const scale = opts.scale ?? Math.max(target.width, target.height);
  const keypoints: KeypointSuggestion[] = [];
  for (const kp of [...perKp.keys()].sort((a, b) => a - b)) {
    const f = fuseCandidates(perKp.get(kp)!, { scale, sigmaFraction: opts.sigmaFraction ?? FUSE_DEFAULTS.sigmaFraction, cycleSigma: opts.cycleSigma ?? FUSE_DEFAULTS.cycleSigma })!;
    const x = Math.min(Math.max(f.x, 0), target.width);
    const y = Math.min(Math.max(f.y, 0), target.height);
    keypoints.push({ kp, x, y, confidence: f.confidence, visible: f.confidence >= opts.visibleThreshold, candidates: f.candidates, agreement: f.agreement });
  }
  if (!descriptor) throw new RangeError('suggestKeypoints: no exemplar has a visible keypoint');
  return { keypoints, descriptor, exemplarDescriptors };
}

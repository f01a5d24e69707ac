/**
 * Suggested keypoints for one image from a category's labelled exemplars: every exemplar's visible
 * keypoints are matched into the target with the pipeline's features and kernel soft-argmax
 * (keeping each query's similarity peak), the matches are matched back into the exemplar (the
 * cycle check), and each schema keypoint's candidates are fused (fusion.ts). Features come from
 * the pipeline's caches, so once the exemplars are cached a suggestion costs the target's feature
 * pass (a CPM prompt's features depend on the pair: one pass per exemplar).
 *
 * Every exemplar is also matched as its mirror image (pixels mirrored before resizing, keypoints
 * mirrored and, by the schema's symmetric pairs, renamed: left_eye <-> right_eye) and, per
 * exemplar, the orientation whose candidates are better (mean quality) is kept: a cat facing the
 * other way gets its left eye called left. Without pairs declared, names follow the pixels.
 */
import type { HostTensor } from '../onnx/ir.js';
import type { SessionCache } from '../onnx/session-cache.js';
import type { TaskContext } from '../jobs/progress.js';
import { matchKeypoints } from '../sd4match/matching/matching.js';
import { bilinearCorners, scaleAlignCorners } from '../sd4match/matching/geometry.js';
import type { ImageRef, Pipeline } from '../sd4match/features/pipeline.js';
import { flipIndex } from '../datasets/flip-pairs.js';
import { type Candidate, candidateQuality, fuseCandidates, FUSE_DEFAULTS } from './fusion.js';
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
  /** Symmetric pairs of the schema (0-based): names swap in a mirrored exemplar (none: names follow the pixels). */
  flipPairs?: readonly (readonly [number, number])[];
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

/** One exemplar's part in a suggestion. */
export interface ExemplarUse {
  imageId: number;
  /** Matched as its mirror image (the better orientation). */
  mirrored: boolean;
  /** Mean candidate quality of the kept orientation. */
  quality: number;
}

export interface ImageSuggestion {
  keypoints: KeypointSuggestion[];
  /** The target's global descriptor (ranking.ts). */
  descriptor: Float32Array;
  /** Exemplars' global descriptors, by image id. */
  exemplarDescriptors: Map<number, Float32Array>;
  /** How each exemplar was used. */
  exemplars: ExemplarUse[];
}

/** The descriptor of a [1, C, h, w] map at a point of the S x S frame (bilinear, align corners, as matching samples). */
function descriptorAt(f: HostTensor, x: number, y: number, S: number): Float32Array {
  const [C, h, w] = f.dims.slice(-3);
  const [gx, gy] = scaleAlignCorners(x, y, { h: S, w: S }, { h, w });
  const { index, weight } = bilinearCorners(Math.min(Math.max(gx, 0), w - 1), Math.min(Math.max(gy, 0), h - 1), h, w);
  const data = f.data as Float32Array;
  const out = new Float32Array(C);
  for (let k = 0; k < 4; k++) {
    if (weight[k] === 0) continue;
    for (let c = 0; c < C; c++) out[c] += weight[k] * data[c * h * w + index[k]];
  }
  return out;
}

function cosineOf(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / (Math.sqrt(aa * bb) + 1e-12);
}

/** An exemplar as it is matched: as it is, or mirrored (pixels, keypoint positions and names). */
/**
 * An exemplar's labelled keypoints in its mirror image: x mirrored, each renamed to its partner in
 * the symmetric pairs (a keypoint in no pair keeps its name). Sorted by keypoint.
 */
export function mirrorKeypoints(keypoints: Exemplar['keypoints'], width: number, flipPairs: readonly (readonly [number, number])[]): Exemplar['keypoints'] {
  // the schema's size as far as the pairs and labels show it: a partner need not be labelled
  const n = Math.max(0, ...keypoints.map((k) => k.kp + 1), ...flipPairs.flat().map((k) => k + 1));
  const swap = flipIndex(flipPairs, n);
  return keypoints.map((k) => ({ kp: swap[k.kp]!, x: width - k.x, y: k.y })).sort((a, b) => a.kp - b.kp);
}

function orientations(e: Exemplar, flipPairs: readonly (readonly [number, number])[] = []): { ref: ImageRef; keypoints: Exemplar['keypoints']; mirrored: boolean }[] {
  const plain = { ref: e.ref, keypoints: e.keypoints, mirrored: false };
  return [plain, { ref: { ...e.ref, flip: !e.ref.flip }, keypoints: mirrorKeypoints(e.keypoints, e.ref.width, flipPairs), mirrored: true }];
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
  const cycleSigma = opts.cycleSigma ?? FUSE_DEFAULTS.cycleSigma;
  const perKp = new Map<number, Candidate[]>();
  const exemplarDescriptors = new Map<number, Float32Array>();
  const uses: ExemplarUse[] = [];
  let descriptor: Float32Array | null = null;
  for (const e of exemplars) {
    if (e.keypoints.length === 0) continue;
    let best: { cands: { kp: number; c: Candidate }[]; quality: number; mirrored: boolean } | null = null;
    for (const o of orientations(e, opts.flipPairs)) {
      task?.token.throwIfCancelled();
      const f = await pipe.pairFeatures(o.ref, target, category);
      descriptor ??= globalDescriptor(f.trg.data as Float32Array, f.trg.dims);
      if (!o.mirrored && !exemplarDescriptors.has(e.imageId)) exemplarDescriptors.set(e.imageId, globalDescriptor(f.src.data as Float32Array, f.src.dims));
      const N = o.keypoints.length;
      const srcKps = new Float32Array(o.keypoints.flatMap((k) => [(k.x * S) / e.ref.width, (k.y * S) / e.ref.height]));
      const fwd = await matchKeypoints(sessions, { srcFeatures: f.src, trgFeatures: f.trg, srcKps, N, srcFrame: frame, trgFrame: frame }, ['kernelsoftmax']);
      const m = fwd.matches.kernelsoftmax!;
      const back = (await matchKeypoints(sessions, { srcFeatures: f.trg, trgFeatures: f.src, srcKps: m, N, srcFrame: frame, trgFrame: frame }, ['kernelsoftmax'])).matches.kernelsoftmax!;
      const cands = o.keypoints.map((k, i) => {
        const bx = (back[2 * i] * e.ref.width) / S;
        const by = (back[2 * i + 1] * e.ref.height) / S;
        const c: Candidate = {
          x: (m[2 * i] * target.width) / S,
          y: (m[2 * i + 1] * target.height) / S,
          // at the match, not the grid's best cell: a keypoint between cells of an identical image still scores 1
          similarity: cosineOf(descriptorAt(f.src, srcKps[2 * i], srcKps[2 * i + 1], S), descriptorAt(f.trg, m[2 * i], m[2 * i + 1], S)),
          cycle: Math.hypot(bx - k.x, by - k.y) / e.scale,
        };
        return { kp: k.kp, c };
      });
      const quality = cands.reduce((t, { c }) => t + candidateQuality(c, cycleSigma), 0) / cands.length;
      if (!best || quality > best.quality) best = { cands, quality, mirrored: o.mirrored };
    }
    for (const { kp, c } of best!.cands) {
      const list = perKp.get(kp) ?? [];
      list.push(c);
      perKp.set(kp, list);
    }
    uses.push({ imageId: e.imageId, mirrored: best!.mirrored, quality: best!.quality });
  }
  const scale = opts.scale ?? Math.max(target.width, target.height);
  const keypoints: KeypointSuggestion[] = [];
  for (const kp of [...perKp.keys()].sort((a, b) => a - b)) {
    const f = fuseCandidates(perKp.get(kp)!, { scale, sigmaFraction: opts.sigmaFraction ?? FUSE_DEFAULTS.sigmaFraction, cycleSigma })!;
    const x = Math.min(Math.max(f.x, 0), target.width);
    const y = Math.min(Math.max(f.y, 0), target.height);
    keypoints.push({ kp, x, y, confidence: f.confidence, visible: f.confidence >= opts.visibleThreshold, candidates: f.candidates, agreement: f.agreement });
  }
  if (!descriptor) throw new RangeError('suggestKeypoints: no exemplar has a visible keypoint');
  return { keypoints, descriptor, exemplarDescriptors, exemplars: uses };
}

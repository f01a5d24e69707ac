/**
 * Keypoint matching between feature maps, as the SD4Match reference evaluates it, in one ONNX
 * Runtime graph per shape: source descriptors by bilinear sampling (align corners), cosine
 * correlation with every target position, then
 *  - kernelsoftmax: correlation × Gaussian window (σ in grid cells) at its argmax, softmax with
 *    temperature, expected (x, y) over the grid;
 *  - softmax: softmax with temperature, expected (x, y);
 *  - nn: argmax;
 *  - bilinear: nearest neighbours of the four grid corners around the query, blended bilinearly.
 * Coordinates go in and out in the image frame; scaling uses align-corners.
 */
import { AppError } from '../../../shared/errors.js';
import { ModelBuilder } from '../../onnx/builder.js';
import type { HostTensor, Model } from '../../onnx/ir.js';
import type { SessionCache } from '../../onnx/session-cache.js';
import { bilinearCorners, regularise, scaleAlignCorners } from './geometry.js';

export const MATCH_METHODS = ['kernelsoftmax', 'softmax', 'nn', 'bilinear'] as const;
export type MatchMethod = (typeof MATCH_METHODS)[number];

export interface MatchSettings {
  temperature: number;
  sigma: number;
}

export const DEFAULT_MATCH: MatchSettings = { temperature: 0.04, sigma: 7 };

interface Dims {
  B: number;
  N: number;
  C: number;
  h1: number;
  w1: number;
  h2: number;
  w2: number;
}

/** L2-normalises along `axis` with the reference's +1e-6 in the denominator. */
function l2normalize(m: ModelBuilder, x: string, axis: number): string {
  const norm = m.op1('Sqrt', [m.reduceSum(m.mul(x, x), [axis], true)]);
  return m.div(x, m.add(norm, m.scalar(1e-6, x)));
}

/** Flat argmax -> (x, y) as float [.., 2]. */
function argmaxXY(m: ModelBuilder, corr: string, w: number): { idx: string; xy: string; x: string; y: string } {
  const idx = m.op1('ArgMax', [corr], { axis: -1, keepdims: 0 });
  // in float32 (exact: indices < 2^24, and a correctly rounded idx / w never reaches the next
  // integer): GPU providers have no int64 Mod or Div, so the int64 form ran on the CPU
  const fi = m.cast(idx, 'float32');
  const wc = m.scalar(w, fi);
  const y = m.op1('Floor', [m.div(fi, wc)]);
  const x = m.sub(fi, m.mul(y, wc));
  const xy = m.op1('Concat', [m.op1('Unsqueeze', [x, m.ints([-1])]), m.op1('Unsqueeze', [y, m.ints([-1])])], { axis: -1 });
  return { idx, xy, x, y };
}

export function buildMatchingModel(d: Dims, methods: readonly MatchMethod[], s: MatchSettings): Model {
  const m = new ModelBuilder('matching', 17);
  const src = m.input('src_features', 'float32', [d.B, d.C, d.h1, d.w1]);
  const trg = m.input('trg_features', 'float32', [d.B, d.C, d.h2, d.w2]);
  const hw1 = d.h1 * d.w1;
  const hw2 = d.h2 * d.w2;
  // source rows [B·h1·w1, C]; indices are global (b·h1·w1 + cell)
  const srcRows = m.reshape(m.transpose(m.reshape(src, [d.B, d.C, hw1]), [0, 2, 1]), [d.B * hw1, d.C]);
  const trgN = l2normalize(m, m.reshape(trg, [d.B, d.C, hw2]), 1);

  const gridX = m.floats(
    Array.from({ length: hw2 }, (_, i) => i % d.w2),
    [hw2],
  );
  const gridY = m.floats(
    Array.from({ length: hw2 }, (_, i) => Math.floor(i / d.w2)),
    [hw2],
  );
  const grid2 = m.floats(
    Array.from({ length: hw2 * 2 }, (_, k) => (k % 2 === 0 ? Math.floor(k / 2) % d.w2 : Math.floor(Math.floor(k / 2) / d.w2))),
    [hw2, 2],
  );

  const needsQuery = methods.some((x) => x !== 'bilinear');
  if (needsQuery) {
    const qIndex = m.input('query_index', 'int64', [d.B, d.N, 4]);
    const qWeight = m.input('query_weight', 'float32', [d.B, d.N, 4]);
    const corners = m.op1('Gather', [srcRows, qIndex], { axis: 0 }); // [B, N, 4, C]
    const desc = m.reduceSum(m.mul(corners, m.op1('Unsqueeze', [qWeight, m.ints([-1])])), [2], false); // [B, N, C]
    const corr = m.op1('MatMul', [l2normalize(m, desc, 2), trgN]); // [B, N, h2·w2]
    m.output('correlation', corr);
    const invT = m.scalar(1 / s.temperature, corr);
    const expect = (scores: string) => m.op1('MatMul', [m.op1('Softmax', [m.mul(scores, invT)], { axis: -1 }), grid2]);
    const am = argmaxXY(m, corr, d.w2);
    if (methods.includes('nn')) m.output('matches_nn', am.xy);
    if (methods.includes('softmax')) m.output('matches_softmax', expect(corr));
    if (methods.includes('kernelsoftmax')) {
      const ix = m.op1('Unsqueeze', [am.x, m.ints([-1])]);
      const iy = m.op1('Unsqueeze', [am.y, m.ints([-1])]);
      const dx = m.sub(gridX, ix);
      const dy = m.sub(gridY, iy);
      const d2 = m.add(m.mul(dx, dx), m.mul(dy, dy));
      const gauss = m.op1('Exp', [m.mul(d2, m.scalar(-1 / (2 * s.sigma * s.sigma), d2))]);
      m.output('matches_kernelsoftmax', expect(m.mul(corr, gauss)));
    }
  }
  if (methods.includes('bilinear')) {
    const cIndex = m.input('corner_index', 'int64', [d.B, d.N, 4]);
    const cWeight = m.input('corner_weight', 'float32', [d.B, d.N, 4]);
    const cDesc = m.reshape(m.op1('Gather', [srcRows, cIndex], { axis: 0 }), [d.B, d.N * 4, d.C]);
    const cCorr = m.op1('MatMul', [l2normalize(m, cDesc, 2), trgN]); // [B, 4N, h2·w2]
    const q = m.reshape(argmaxXY(m, cCorr, d.w2).xy, [d.B, d.N, 4, 2]);
    const wts = m.op1('Unsqueeze', [cWeight, m.ints([-1])]);
    const blended = m.div(m.reduceSum(m.mul(q, wts), [2], false), m.reduceSum(wts, [2], false));
    m.output('matches_bilinear', blended);
  }
  return m.build();
}

export interface MatchInput {
  /** [B, C, h1, w1] */
  srcFeatures: HostTensor;
  /** [B, C, h2, w2] */
  trgFeatures: HostTensor;
  /** Source keypoints in the source image frame, [B, N, 2] flat (x, y). */
  srcKps: Float32Array;
  N: number;
  srcFrame: { h: number; w: number };
  trgFrame: { h: number; w: number };
}

export interface MatchResult {
  /** Matches in the target image frame per method, [B, N, 2] flat. */
  matches: Partial<Record<MatchMethod, Float32Array>>;
  /** Cosine correlation of each query with every target cell, [B, N, h2·w2] (when computed). */
  correlation?: HostTensor;
}

/** Host-side sampling plans for the queries (bilinear corners of the query and, for 'bilinear', the integer corners). */
export function matchFeeds(input: MatchInput, methods: readonly MatchMethod[]): Record<string, HostTensor> {
  const [B, , h1, w1] = input.srcFeatures.dims;
  const { N } = input;
  const qIndex = new BigInt64Array(B * N * 4);
  const qWeight = new Float32Array(B * N * 4);
  const cIndex = new BigInt64Array(B * N * 4);
  const cWeight = new Float32Array(B * N * 4);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      const k = b * N + n;
      const [x, y] = scaleAlignCorners(input.srcKps[2 * k], input.srcKps[2 * k + 1], input.srcFrame, { h: h1, w: w1 });
      const bc = bilinearCorners(x, y, h1, w1);
      for (let c = 0; c < 4; c++) {
        qIndex[4 * k + c] = BigInt(b * h1 * w1 + bc.index[c]);
        qWeight[4 * k + c] = bc.weight[c];
      }
      // the reference's bilinear nearest neighbour: corners of the regularised query, each weighted
      // by the area to the opposite corner; order (x0,y0) (x0,y0+1) (x0+1,y0) (x0+1,y0+1)
      const rx = regularise(x, w1, 1e-5);
      const ry = regularise(y, h1, 1e-5);
      const fx = Math.floor(rx);
      const fy = Math.floor(ry);
      const cs: [number, number][] = [
        [fx, fy],
        [fx, fy + 1],
        [fx + 1, fy],
        [fx + 1, fy + 1],
      ];
      cs.forEach(([cx, cy], c) => {
        const [ox, oy] = cs[3 - c];
        cIndex[4 * k + c] = BigInt(b * h1 * w1 + cy * w1 + cx);
        cWeight[4 * k + c] = Math.abs(rx - ox) * Math.abs(ry - oy);
      });
    }
  }
  const feeds: Record<string, HostTensor> = {
    src_features: input.srcFeatures,
    trg_features: input.trgFeatures,
  };
  if (methods.some((x) => x !== 'bilinear')) {
    feeds.query_index = { dtype: 'int64', dims: [B, N, 4], data: qIndex };
    feeds.query_weight = { dtype: 'float32', dims: [B, N, 4], data: qWeight };
  }
  if (methods.includes('bilinear')) {
    feeds.corner_index = { dtype: 'int64', dims: [B, N, 4], data: cIndex };
    feeds.corner_weight = { dtype: 'float32', dims: [B, N, 4], data: cWeight };
  }
  return feeds;
}

export async function matchKeypoints(
  cache: SessionCache,
  input: MatchInput,
  methods: readonly MatchMethod[] = MATCH_METHODS,
  settings: MatchSettings = DEFAULT_MATCH,
  opts: { correlation?: boolean } = {},
): Promise<MatchResult> {
  const [B, C, h1, w1] = input.srcFeatures.dims;
  const [B2, C2, h2, w2] = input.trgFeatures.dims;
  if (B !== B2 || C !== C2) {
    throw new AppError('INVALID_ARGUMENT', `source features [${input.srcFeatures.dims}] and target features [${input.trgFeatures.dims}] differ in batch or channels`);
  }
  if (input.srcKps.length !== B * input.N * 2) throw new AppError('INVALID_ARGUMENT', `expected ${B}x${input.N} keypoints, got ${input.srcKps.length / 2}`);
  const dims = { B, N: input.N, C, h1, w1, h2, w2 };
  const key = `match:${JSON.stringify(dims)}:${methods.join(',')}:${settings.temperature}:${settings.sigma}`;
  const session = await cache.get(key, () => buildMatchingModel(dims, methods, settings));
  const wanted = methods.map((x) => `matches_${x}`);
  if (opts.correlation && methods.some((x) => x !== 'bilinear')) wanted.push('correlation');
  const out = await session.run(matchFeeds(input, methods), wanted);
  const result: MatchResult = { matches: {} };
  for (const method of methods) {
    const grid = out[`matches_${method}`].data as Float32Array;
    const img = new Float32Array(grid.length);
    for (let i = 0; i < grid.length; i += 2) {
      const [x, y] = scaleAlignCorners(grid[i], grid[i + 1], { h: h2, w: w2 }, input.trgFrame);
      img[i] = x;
      img[i + 1] = y;
    }
    result.matches[method] = img;
  }
  if (out.correlation) result.correlation = out.correlation;
  return result;
}

/**
 * PCK per pair: the fraction of the first n_pts keypoints whose match lies within alpha·threshold
 * of the ground truth (inclusive), for each alpha; also the per-point correctness.
 */
export function pckPerPair(
  matches: Float32Array,
  trgKps: Float32Array,
  nPts: number[],
  N: number,
  thresholds: number[],
  alphas: number[],
): { perPair: number[][]; perPoint: boolean[][][]; errors: number[][] } {
  const perPair: number[][] = [];
  const perPoint: boolean[][][] = [];
  const errors: number[][] = [];
  for (let b = 0; b < nPts.length; b++) {
    const errs: number[] = [];
    for (let i = 0; i < nPts[b]; i++) {
      const k = b * N + i;
      errs.push(Math.hypot(matches[2 * k] - trgKps[2 * k], matches[2 * k + 1] - trgKps[2 * k + 1]));
    }
    errors.push(errs);
    perPoint.push(alphas.map((a) => errs.map((e) => e <= a * thresholds[b])));
    perPair.push(alphas.map((a) => (errs.length ? errs.filter((e) => e <= a * thresholds[b]).length / errs.length : 0)));
  }
  return { perPair, perPoint, errors };
}

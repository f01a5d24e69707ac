/**
 * PCK evaluation as the SD4Match paper's protocol does it: images resized to S x S (keypoints and
 * boxes scaled with them), features per prompt, matches by each method, a keypoint correct when
 * ‖pred - gt‖ ≤ α·θ. θ: SPair-71k max(w, h) of the target box; PF-Pascal max(h, w) of the target
 * image; PF-Willow the larger extent of the target keypoints. Measured in the resized frame
 * (default, comparable with the paper) or the original image frame. Reported per image (mean over
 * pairs), per point, per category and per SPair difficulty flag.
 */
import type { TaskContext } from '../../jobs/progress.js';
import { SessionCache } from '../../onnx/session-cache.js';
import { DEFAULT_MATCH, type MatchMethod, type MatchSettings, matchKeypoints, pckPerPair } from './matching.js';
import type { ImageRef, Pipeline } from '../features/pipeline.js';

export type Benchmark = 'spair' | 'pfpascal' | 'pfwillow' | 'generic';
export type Frame = 'resized' | 'original';

export interface EvalPair {
  id: number | string;
  category: string;
  src: ImageRef;
  trg: ImageRef;
  /** Keypoints in original image pixels, n_pts rows each. */
  srcKps: [number, number][];
  trgKps: [number, number][];
  trgBbox: [number, number, number, number] | null;
  /** SPair difficulty flags (name -> level), when annotated. */
  flags?: Record<string, number | null>;
}

export interface EvalOptions {
  benchmark: Benchmark;
  frame: Frame;
  methods: MatchMethod[];
  alphas: number[];
  match?: MatchSettings;
}

export interface PckTable {
  /** Mean over pairs of the per-pair PCK. */
  image: number;
  /** Fraction of all keypoints. */
  point: number;
  categories: Record<string, number>;
  /** flag -> level -> per-image PCK. */
  flags: Record<string, Record<string, number>>;
}

export interface PairResult {
  id: number | string;
  category: string;
  nPts: number;
  /** method -> PCK per alpha. */
  pck: Record<string, number[]>;
  /** method -> mean error in threshold units (‖pred - gt‖ / θ). */
  error: Record<string, number>;
}

export interface EvalReport {
  prompt: string;
  benchmark: Benchmark;
  frame: Frame;
  methods: MatchMethod[];
  alphas: number[];
  pairs: number;
  points: number;
  /** method -> alpha (as string) -> table. */
  pck: Record<string, Record<string, PckTable>>;
  perPair: PairResult[];
  seconds: number;
  provider: string;
  cache: { hits: number; misses: number; hitRate: number };
}

/**
 * PCK threshold θ of a pair in the given frame: the target box's larger side (SPair-71k, and other
 * datasets with boxes), the target image's larger side (PF-Pascal, and datasets without boxes),
 * or the larger extent of the target keypoints (PF-Willow).
 */
export function pckThreshold(p: EvalPair, benchmark: Benchmark, frame: Frame, size: number): number {
  const sx = frame === 'resized' ? size / p.trg.width : 1;
  const sy = frame === 'resized' ? size / p.trg.height : 1;
  if (benchmark === 'pfwillow') {
    const xs = p.trgKps.map((k) => k[0] * sx);
    const ys = p.trgKps.map((k) => k[1] * sy);
    return Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  }
  if (benchmark !== 'pfpascal' && p.trgBbox) {
    const [x1, y1, x2, y2] = p.trgBbox;
    return Math.max((x2 - x1) * sx, (y2 - y1) * sy);
  }
  return Math.max(p.trg.width * sx, p.trg.height * sy);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

export async function evaluate(pipeline: Pipeline, pairs: EvalPair[], opts: EvalOptions, task: TaskContext): Promise<EvalReport> {
  const start = Date.now();
  const S = pipeline.settings.size;
  const N = Math.max(4, Math.ceil(Math.max(1, ...pairs.map((p) => p.srcKps.length)) / 4) * 4);
  const sessions = new SessionCache(4);
  const perPair: PairResult[] = [];
  const points: Record<string, Record<string, boolean[]>> = {};
  const pointCats: string[] = [];
  for (const m of opts.methods) points[m] = Object.fromEntries(opts.alphas.map((a) => [String(a), []]));
  let done = 0;
  for (const p of pairs) {
    task.token.throwIfCancelled();
    const n = p.srcKps.length;
    const feats = await pipeline.pairFeatures(p.src, p.trg, p.category);
    const srcKps = new Float32Array(N * 2).fill(-2);
    const trgKps = new Float32Array(N * 2).fill(-2);
    p.srcKps.forEach(([x, y], i) => {
      srcKps[2 * i] = (x * S) / p.src.width;
      srcKps[2 * i + 1] = (y * S) / p.src.height;
    });
    p.trgKps.forEach(([x, y], i) => {
      trgKps[2 * i] = opts.frame === 'resized' ? (x * S) / p.trg.width : x;
      trgKps[2 * i + 1] = opts.frame === 'resized' ? (y * S) / p.trg.height : y;
    });
    const res = await matchKeypoints(
      sessions,
      { srcFeatures: feats.src, trgFeatures: feats.trg, srcKps, N, srcFrame: { h: S, w: S }, trgFrame: { h: S, w: S } },
      opts.methods,
      opts.match ?? DEFAULT_MATCH,
    );
    const theta = pckThreshold(p, opts.benchmark, opts.frame, S);
    const result: PairResult = { id: p.id, category: p.category, nPts: n, pck: {}, error: {} };
    for (const m of opts.methods) {
      const matches = res.matches[m]!;
      if (opts.frame === 'original') {
        for (let i = 0; i < N; i++) {
          matches[2 * i] = (matches[2 * i] * p.trg.width) / S;
          matches[2 * i + 1] = (matches[2 * i + 1] * p.trg.height) / S;
        }
      }
      const r = pckPerPair(matches, trgKps, [n], N, [theta], opts.alphas);
      result.pck[m] = r.perPair[0];
      result.error[m] = mean(r.errors[0]) / theta;
      opts.alphas.forEach((a, k) => points[m][String(a)].push(...r.perPoint[0][k]));
    }
    for (let i = 0; i < n; i++) pointCats.push(p.category);
    perPair.push(result);
    done++;
    task.progress({
      stage: 'evaluating pairs',
      done,
      total: pairs.length,
      detail: `${opts.methods[0]} PCK@${opts.alphas[Math.min(1, opts.alphas.length - 1)]} ${(100 * mean(perPair.map((q) => q.pck[opts.methods[0]][Math.min(1, opts.alphas.length - 1)]))).toFixed(1)}%`,
    });
  }
  await sessions.clear();

  const pck: EvalReport['pck'] = {};
  for (const m of opts.methods) {
    pck[m] = {};
    opts.alphas.forEach((a, k) => {
      const byCat = new Map<string, number[]>();
      const byFlag = new Map<string, Map<string, number[]>>();
      perPair.forEach((r, i) => {
        const v = r.pck[m][k];
        if (!byCat.has(r.category)) byCat.set(r.category, []);
        byCat.get(r.category)!.push(v);
        for (const [flag, level] of Object.entries(pairs[i].flags ?? {})) {
          if (level === null || level === undefined) continue;
          if (!byFlag.has(flag)) byFlag.set(flag, new Map());
          const f = byFlag.get(flag)!;
          if (!f.has(String(level))) f.set(String(level), []);
          f.get(String(level))!.push(v);
        }
      });
      const pts = points[m][String(a)];
      pck[m][String(a)] = {
        image: mean(perPair.map((r) => r.pck[m][k])),
        point: pts.length ? pts.filter(Boolean).length / pts.length : 0,
        categories: Object.fromEntries([...byCat.entries()].sort((x, y) => x[0].localeCompare(y[0])).map(([c, v]) => [c, mean(v)])),
        flags: Object.fromEntries([...byFlag.entries()].map(([f, lv]) => [f, Object.fromEntries([...lv.entries()].sort().map(([l, v]) => [l, mean(v)]))])),
      };
    });
  }
  return {
    prompt: pipeline.label,
    benchmark: opts.benchmark,
    frame: opts.frame,
    methods: opts.methods,
    alphas: opts.alphas,
    pairs: pairs.length,
    points: pointCats.length,
    pck,
    perPair,
    seconds: (Date.now() - start) / 1000,
    provider: await pipeline.sd.provider(),
    cache: pipeline.cache.stats(),
  };
}

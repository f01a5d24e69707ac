/**
 * Which unannotated image to label next. Two signals, each in [0, 1]:
 *  - uncertainty: 1 - the image's mean suggestion confidence (low or disagreeing suggestions);
 *  - novelty: 1 - the largest cosine similarity of its global descriptor to the labelled images
 *    and to those already queued before it (so the queue spreads over feature space rather than
 *    stacking near-duplicates of one unusual image).
 * The queue is built greedily: at each step the image with the largest
 * λ · uncertainty + (1 - λ) · novelty goes next (an image with one signal only is scored by it).
 * Images with neither come last, in the order given (by path).
 *
 * The global descriptor of a feature map [1, C, h, w] is the mean of its L2-normalised cells,
 * normalised: cosine similarity between two of them compares what the images hold, not where.
 */

export interface RankInput {
  id: number;
  /** Mean suggestion confidence over the schema (null: not suggested yet). */
  confidence: number | null;
  /** Unit global descriptor (null: none computed yet). */
  descriptor: Float32Array | null;
}

export interface Ranked {
  id: number;
  score: number;
  confidence: number | null;
  /** Against the labelled images only (what the queue's tooltip says). */
  novelty: number | null;
  reason: string;
}

export const RANK_DEFAULTS = { lambda: 0.5 } as const;

/** Mean suggestion confidence over a schema of `schemaSize` keypoints (those not suggested count 0). */
export function schemaConfidence(keypoints: readonly { kp: number; confidence: number }[], schemaSize: number): number {
  return keypoints.filter((k) => k.kp < schemaSize).reduce((t, k) => t + k.confidence, 0) / Math.max(1, schemaSize);
}

/** Mean of the L2-normalised cells of a [1, C, h, w] (or [C, h, w]) map, normalised. */
export function globalDescriptor(data: Float32Array, dims: readonly number[]): Float32Array {
  const [C, h, w] = dims.slice(-3);
  const hw = h * w;
  if (data.length !== C * hw) throw new RangeError(`globalDescriptor: ${data.length} values for dims [${dims}]`);
  const out = new Float32Array(C);
  for (let p = 0; p < hw; p++) {
    let n = 0;
    for (let c = 0; c < C; c++) n += data[c * hw + p] ** 2;
    const inv = 1 / (Math.sqrt(n) + 1e-6);
    for (let c = 0; c < C; c++) out[c] += data[c * hw + p] * inv;
  }
  return normalised(out);
}

function normalised(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = 1 / (Math.sqrt(n) + 1e-12);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`cosine: descriptors of ${a.length} and ${b.length} values (computed with different settings?)`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function noveltyTo(d: Float32Array, set: readonly Float32Array[]): number {
  if (set.length === 0) return 1;
  let best = -1;
  for (const o of set) best = Math.max(best, cosine(d, o));
  return Math.min(1, Math.max(0, 1 - best));
}

/** The queue: `items` in the order to label them (see the module comment). */
export function rankQueue(items: readonly RankInput[], labelled: readonly Float32Array[], opts: { lambda?: number } = {}): Ranked[] {
  const lambda = opts.lambda ?? RANK_DEFAULTS.lambda;
  const rankable = items.filter((i) => i.confidence !== null || i.descriptor !== null);
  const rest = items.filter((i) => i.confidence === null && i.descriptor === null);
  const chosen: Float32Array[] = [...labelled];
  const baseNovelty = new Map(rankable.map((i) => [i.id, i.descriptor ? noveltyTo(i.descriptor, labelled) : null]));
  const out: Ranked[] = [];
  const left = new Set(rankable);
  while (left.size > 0) {
    let pick: RankInput | null = null;
    let pickScore = -Infinity;
    for (const it of left) {
      const s = score(it, it.descriptor ? noveltyTo(it.descriptor, chosen) : null, lambda);
      if (s > pickScore + 1e-12) {
        pickScore = s;
        pick = it;
      }
    }
    left.delete(pick!);
    if (pick!.descriptor) chosen.push(pick!.descriptor);
    const novelty = baseNovelty.get(pick!.id) ?? null;
    out.push({ id: pick!.id, score: pickScore, confidence: pick!.confidence, novelty, reason: reasonOf(pick!.confidence, novelty) });
  }
  for (const it of rest) out.push({ id: it.id, score: 0, confidence: null, novelty: null, reason: 'not suggested for yet' });
  return out;
}

function score(it: RankInput, novelty: number | null, lambda: number): number {
  const u = it.confidence === null ? null : 1 - it.confidence;
  if (u !== null && novelty !== null) return lambda * u + (1 - lambda) * novelty;
  return (u ?? novelty)!;
}

function reasonOf(confidence: number | null, novelty: number | null): string {
  const parts: string[] = [];
  if (confidence !== null) parts.push(confidence < 0.5 ? `low suggestion confidence (${confidence.toFixed(2)})` : `suggestion confidence ${confidence.toFixed(2)}`);
  if (novelty !== null) parts.push(novelty > 0.1 ? `unlike the labelled images (novelty ${novelty.toFixed(2)})` : `close to a labelled image (novelty ${novelty.toFixed(2)})`);
  return parts.join('; ');
}

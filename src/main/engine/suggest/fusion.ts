/**
 * Fusing one schema keypoint's candidates (one per exemplar that has it labelled visible) into a
 * suggested position with a confidence in [0, 1].
 *
 * Each candidate carries two signals of its own quality: its similarity (the cosine between the
 * exemplar's keypoint descriptor and the target's descriptor at the match) and its cycle error
 * (matching the candidate back into the exemplar lands how far from the labelled keypoint, as a
 * fraction of the exemplar's object size). Its quality is
 *
 *   q = max(0, similarity) · exp(-½ (cycle / cycleSigma)²)
 *
 * Only candidates of comparable quality vote: with q* the best quality, the comparable set is
 *
 *   C = { i : q_i ≥ q* − comparability · (1 − q*) }
 *
 * so next to a near-perfect candidate (an exemplar of the same object: q* → 1) only candidates as
 * good count, and it decides the position and the confidence whatever unrelated exemplars say;
 * among mediocre candidates every one counts. Within C the anchor is the candidate with the largest
 * Σ_j q_j K(d_ij), K a Gaussian of width σ = sigmaFraction · scale (scale: the target's object
 * size, or its larger side); the agreeing set A holds the candidates of C within 2σ of the anchor;
 * the position is A's q-weighted mean; agreement = Σ_A q / Σ_C q; and
 *
 *   confidence = (Σ_A q² / Σ_A q) · agreement
 *
 * the agreeing candidates' q-weighted mean quality, discounted by the comparable weight that
 * disagrees. One candidate agrees with itself (agreement 1, confidence q): nothing corroborates it.
 * How often a confidence is right is measured, not assumed: `suggest-eval`'s reliability table.
 */

export interface Candidate {
  /** Where the exemplar's keypoint matched in the target (target frame, pixels). */
  x: number;
  y: number;
  /** Cosine similarity of the exemplar's keypoint descriptor and the target's at the match, in [-1, 1]. */
  similarity: number;
  /** Cycle error: distance from the back-match to the labelled keypoint / the exemplar's object size. */
  cycle: number;
}

export interface FuseOptions {
  /** The target's object size in pixels (bbox larger side, or the image's larger side). */
  scale: number;
  /** Agreement kernel width as a fraction of `scale` (default 0.05). */
  sigmaFraction?: number;
  /** Cycle errors are judged on this scale, a fraction of the exemplar's size (default 0.1). */
  cycleSigma?: number;
  /** How far below the best a comparable candidate may be, in units of the best's distance to 1 (default 2). */
  comparability?: number;
}

export interface Fused {
  x: number;
  y: number;
  confidence: number;
  candidates: number;
  agreement: number;
}

export const FUSE_DEFAULTS = { sigmaFraction: 0.05, cycleSigma: 0.1, comparability: 2 } as const;

/** One candidate's quality in [0, 1]. */
export function candidateQuality(c: Candidate, cycleSigma: number = FUSE_DEFAULTS.cycleSigma): number {
  const similarity = Math.min(1, Math.max(0, Number.isFinite(c.similarity) ? c.similarity : 0));
  const cycle = Number.isFinite(c.cycle) ? Math.max(0, c.cycle) : Infinity;
  return similarity * Math.exp(-0.5 * (cycle / cycleSigma) ** 2);
}

/** The fused suggestion of one keypoint; null when no exemplar has it. */
export function fuseCandidates(cands: readonly Candidate[], opts: FuseOptions): Fused | null {
  if (cands.length === 0) return null;
  if (!(opts.scale > 0)) throw new RangeError(`fuseCandidates: scale must be positive, got ${opts.scale}`);
  const sigma = (opts.sigmaFraction ?? FUSE_DEFAULTS.sigmaFraction) * opts.scale;
  const q = cands.map((c) => candidateQuality(c, opts.cycleSigma));
  const best = Math.max(...q);
  const floor = best - (opts.comparability ?? FUSE_DEFAULTS.comparability) * (1 - best);
  const comparable = cands.map((_, i) => i).filter((i) => q[i] >= floor);
  const dist = (i: number, j: number) => Math.hypot(cands[i].x - cands[j].x, cands[i].y - cands[j].y);
  // every candidate counts a little, so all-zero qualities still vote by position
  const vote = q.map((v) => v + 1e-9);
  let anchor = comparable[0];
  let top = -Infinity;
  for (const i of comparable) {
    let s = 0;
    for (const j of comparable) s += vote[j] * Math.exp(-0.5 * (dist(i, j) / sigma) ** 2);
    if (s > top + 1e-12) {
      top = s;
      anchor = i;
    }
  }
  const agreeing = comparable.filter((j) => dist(anchor, j) <= 2 * sigma);
  const wA = agreeing.reduce((s, j) => s + vote[j], 0);
  const x = agreeing.reduce((s, j) => s + vote[j] * cands[j].x, 0) / wA;
  const y = agreeing.reduce((s, j) => s + vote[j] * cands[j].y, 0) / wA;
  const qA = agreeing.reduce((s, j) => s + q[j], 0);
  const qC = comparable.reduce((s, j) => s + q[j], 0);
  const agreement = qC > 0 ? qA / qC : agreeing.length / comparable.length;
  const meanQuality = qA > 0 ? agreeing.reduce((s, j) => s + q[j] * q[j], 0) / qA : 0;
  return { x, y, confidence: clamp01(meanQuality * agreement), candidates: cands.length, agreement: clamp01(agreement) };
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

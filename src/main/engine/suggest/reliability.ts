/**
 * How far a suggestion's confidence can be trusted, measured on labelled images: the visible
 * ground-truth keypoints binned by the confidence of their suggestion (a keypoint without one
 * counts as confidence 0 and wrong), each bin's PCK at the report's alphas; and the same for every
 * suggestion at or above a confidence ("accept everything above 0.8: how often is it right?").
 */

export interface ScoredPoint {
  confidence: number;
  /** Distance to the truth / the object's size (Infinity when nothing was suggested). */
  error: number;
}

export interface ReliabilityRow {
  /** Confidence range [from, to) (the last bin includes 1). */
  from: number;
  to: number;
  points: number;
  meanConfidence: number;
  /** Share within alpha of the truth, per alpha. */
  pck: Record<string, number>;
}

export interface Reliability {
  bins: ReliabilityRow[];
  /** Suggestions with confidence >= from (to is 1). */
  atLeast: ReliabilityRow[];
}

export const RELIABILITY_EDGES = [0, 0.2, 0.4, 0.6, 0.8, 1] as const;

function row(points: readonly ScoredPoint[], from: number, to: number, alphas: readonly number[]): ReliabilityRow {
  const n = points.length;
  return {
    from,
    to,
    points: n,
    meanConfidence: n ? points.reduce((t, p) => t + p.confidence, 0) / n : 0,
    pck: Object.fromEntries(alphas.map((a) => [String(a), n ? points.filter((p) => p.error <= a).length / n : 0])),
  };
}

export function reliabilityTable(points: readonly ScoredPoint[], alphas: readonly number[], edges: readonly number[] = RELIABILITY_EDGES): Reliability {
  const bins: ReliabilityRow[] = [];
  const atLeast: ReliabilityRow[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const [lo, hi] = [edges[i]!, edges[i + 1]!];
    const last = i + 2 === edges.length;
    bins.push(
      row(
        points.filter((p) => p.confidence >= lo && (p.confidence < hi || (last && p.confidence <= hi))),
        lo,
        hi,
        alphas,
      ),
    );
    atLeast.push(
      row(
        points.filter((p) => p.confidence >= lo),
        lo,
        edges[edges.length - 1]!,
        alphas,
      ),
    );
  }
  return { bins, atLeast };
}

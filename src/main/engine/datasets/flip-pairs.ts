/**
 * Symmetric keypoint pairs (left_eye <-> right_eye): which keypoints swap names when an image is
 * mirrored. A keypoint in no pair lies on the symmetry axis (nose) and keeps its name. The same
 * relation as YOLO's `flip_idx`, which lists for every keypoint the index of its mirror image.
 * Pure functions, shared by the store, the importers and exporters, and suggestions.
 */

/** What is wrong with a pair list for a schema of `n` keypoints (null: nothing). Names are used when given. */
export function flipPairsProblem(pairs: readonly (readonly [number, number])[], n: number, names?: readonly string[]): string | null {
  const seen = new Map<number, number>();
  const label = (k: number) => (names?.[k] !== undefined ? `'${names[k]}'` : `keypoint ${k}`);
  for (let i = 0; i < pairs.length; i++) {
    const [a, b] = pairs[i]!;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= n || b >= n) return `symmetric pair ${i + 1} [${a}, ${b}] does not join two of the ${n} keypoints`;
    if (a === b) return `symmetric pair ${i + 1} pairs ${label(a)} with itself (a keypoint on the symmetry axis needs no pair)`;
    for (const k of [a, b]) {
      const other = seen.get(k);
      if (other !== undefined) return `${label(k)} is in symmetric pairs ${other + 1} and ${i + 1}: a keypoint has at most one mirror partner`;
      seen.set(k, i);
    }
  }
  return null;
}

/** Pairs in a canonical order (smaller index first, sorted), after checking them. */
export function normaliseFlipPairs(pairs: readonly (readonly [number, number])[], n: number, names?: readonly string[]): [number, number][] {
  const problem = flipPairsProblem(pairs, n, names);
  if (problem) throw new RangeError(problem);
  return pairs.map(([a, b]) => (a < b ? [a, b] : [b, a]) as [number, number]).sort((x, y) => x[0] - y[0]);
}

/** For each keypoint, the index it becomes in the mirror image (YOLO's `flip_idx`). */
export function flipIndex(pairs: readonly (readonly [number, number])[], n: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (const [a, b] of pairs) {
    idx[a] = b;
    idx[b] = a;
  }
  return idx;
}

/** The pairs of a `flip_idx` list; null when it is not a symmetric permutation (the reason in `problem`). */
export function pairsFromFlipIndex(idx: readonly number[]): { pairs: [number, number][] } | { problem: string } {
  const n = idx.length;
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= n) return { problem: `flip_idx[${i}] = ${j} is not one of the ${n} keypoint indices` };
    if (idx[j] !== i) return { problem: `flip_idx[${i}] = ${j} but flip_idx[${j}] = ${idx[j]}: the mirror of a keypoint's mirror must be itself` };
    if (i < j) pairs.push([i, j]);
  }
  return { pairs };
}

/** Pair indices after a schema edit: `map[old] = new index or null (deleted)`; pairs that lose a member go. */
export function remapFlipPairs(pairs: readonly (readonly [number, number])[], map: readonly (number | null)[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of pairs) {
    const na = map[a] ?? null;
    const nb = map[b] ?? null;
    if (na !== null && nb !== null) out.push(na < nb ? [na, nb] : [nb, na]);
  }
  return out.sort((x, y) => x[0] - y[0]);
}

/**
 * Keypoint geometry between the image frame (S x S after resizing) and the feature grid (h x w):
 * align-corners scaling, and bilinear sampling plans (which grid cells, which weights) that graphs
 * consume as inputs, so sampling itself runs in ONNX Runtime and stays differentiable.
 */

/** (x, y) from a frame of size (H1, W1) to (H2, W2) with corners mapped to corners. */
export function scaleAlignCorners(x: number, y: number, from: { h: number; w: number }, to: { h: number; w: number }): [number, number] {
  return [(x / (from.w - 1)) * (to.w - 1), (y / (from.h - 1)) * (to.h - 1)];
}

/**
 * Four-corner bilinear sampling of a point on an h x w grid with zero padding outside (PyTorch's
 * grid_sample, align_corners=True, padding 'zeros'): flat indices (clamped to the grid, with weight
 * 0 where the corner falls outside) and weights.
 */
export function bilinearCorners(x: number, y: number, h: number, w: number): { index: number[]; weight: number[] } {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const corners: [number, number, number][] = [
    [x0, y0, (1 - fx) * (1 - fy)],
    [x0 + 1, y0, fx * (1 - fy)],
    [x0, y0 + 1, (1 - fx) * fy],
    [x0 + 1, y0 + 1, fx * fy],
  ];
  const index: number[] = [];
  const weight: number[] = [];
  for (const [cx, cy, wt] of corners) {
    const inside = cx >= 0 && cx <= w - 1 && cy >= 0 && cy <= h - 1;
    index.push(inside ? cy * w + cx : 0);
    weight.push(inside ? wt : 0);
  }
  return { index, weight };
}

/** Pushes a coordinate into [eps, size - 1 - eps] (the reference's regularise_coordinates). */
export function regularise(v: number, size: number, eps: number): number {
  if (v <= 0) return eps;
  if (v >= size - 1) return size - 1 - eps;
  return v;
}

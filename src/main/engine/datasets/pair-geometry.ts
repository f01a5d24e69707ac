/**
 * What training and evaluation need from a stored pair besides its coordinates: the PF-Pascal
 * horizontal flip, and the PCK threshold each benchmark defines (in the original image frame;
 * scale it with the image for the resized S x S frame).
 */
import type { PairImage, PairRecord } from '../../store/repositories/pairs.js';

/**
 * The pair as the reference reads it when `flip` is set (PF-Pascal training): both images, their
 * keypoints and boxes mirrored horizontally, x' = width - x (boxes: x1' = width - x2,
 * x2' = width - x1). Pairs without the flag come back unchanged.
 */
export function applyFlip(pair: PairRecord): PairRecord {
  if (!pair.flip) return pair;
  const mirror = (side: PairImage): PairImage => {
    const kps = Float64Array.from(side.kps, (v, i) => (i % 2 === 0 ? side.width - v : v));
    const bbox = side.bbox && ([side.width - side.bbox[2], side.bbox[1], side.width - side.bbox[0], side.bbox[3]] as PairImage['bbox']);
    return { ...side, kps, bbox };
  };
  return { ...pair, src: mirror(pair.src), trg: mirror(pair.trg) };
}

/**
 * The PCK threshold theta of a pair, in target-image pixels: SPair-71k max(w, h) of the target
 * box; PF-Pascal max(h, w) of the target image; PF-Willow the larger extent of the target
 * keypoints. Other datasets: the target box if there is one, else the image.
 */
export function pckThreshold(pair: PairRecord): number {
  const t = pair.trg;
  if (pair.format === 'pfwillow') {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < pair.nPts; i++) {
      const x = t.kps[2 * i]!;
      const y = t.kps[2 * i + 1]!;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
    return Math.max(x1 - x0, y1 - y0);
  }
  if (pair.format === 'pfpascal' || !t.bbox) return Math.max(t.width, t.height);
  return Math.max(t.bbox[2] - t.bbox[0], t.bbox[3] - t.bbox[1]);
}

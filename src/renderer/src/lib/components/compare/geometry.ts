/** Where things go on Compare's images. */

/** A point picked on the source image (source pixels). */
export interface ClickedPoint {
  x: number;
  y: number;
  /** The source keypoint clicked, if the click was on one. */
  kp: number | null;
}

/**
 * The box (in percent of the target image) that a w x h similarity map covers. The engine resizes
 * the image to size x size and samples features with align-corners scaling, x_f = x_S (w-1)/(S-1):
 * cell i is centred at i (S-1)/(w-1) resized pixels, i.e. i (S-1)/(w-1) W/S image pixels. Each
 * cell is drawn one spacing wide around its centre, so the map overhangs the image by half a cell
 * (the frame clips it).
 */
export function heatmapBox(w: number, h: number, size: number): { left: number; top: number; width: number; height: number } {
  const sx = w > 1 ? (size - 1) / (w - 1) / size : 1 / w;
  const sy = h > 1 ? (size - 1) / (h - 1) / size : 1 / h;
  return { left: -50 * sx, top: -50 * sy, width: 100 * w * sx, height: 100 * h * sy };
}

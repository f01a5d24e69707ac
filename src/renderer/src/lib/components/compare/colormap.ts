/**
 * Similarity maps as images: values are normalised to their own range and coloured with viridis
 * (perceptually uniform, readable for colour-blind users, on light and dark themes alike).
 */

/** Viridis at 9 evenly spaced stops (matplotlib's table), linearly interpolated in between. */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** 256 RGB entries. */
export const VIRIDIS_LUT: Uint8ClampedArray = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (VIRIDIS.length - 1);
    const k = Math.min(VIRIDIS.length - 2, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(VIRIDIS[k]![c]! * (1 - f) + VIRIDIS[k + 1]![c]! * f);
  }
  return lut;
})();

/** The CSS gradient of the colour bar. */
export const VIRIDIS_CSS = `linear-gradient(to right, ${VIRIDIS.map(([r, g, b], i) => `rgb(${r} ${g} ${b}) ${((100 * i) / (VIRIDIS.length - 1)).toFixed(1)}%`).join(', ')})`;

/** RGBA pixels of a width x height map of values, normalised to [min, max] of the values. */
export function heatmapPixels(values: ArrayLike<number>, width: number, height: number): { pixels: Uint8ClampedArray<ArrayBuffer>; min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < width * height; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max > min ? max - min : 1;
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const k = Math.round(((values[i]! - min) / span) * 255);
    pixels[i * 4] = VIRIDIS_LUT[k * 3]!;
    pixels[i * 4 + 1] = VIRIDIS_LUT[k * 3 + 1]!;
    pixels[i * 4 + 2] = VIRIDIS_LUT[k * 3 + 2]!;
    pixels[i * 4 + 3] = 255;
  }
  return { pixels, min, max };
}

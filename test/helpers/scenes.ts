/**
 * Synthetic scenes for suggestion tests: blocky seeded noise (structure at the scale of the tiny
 * model's feature cells), written as PNG, with its mirror image and lossless re-encodings.
 */
import sharp from 'sharp';
import { Rng } from './random.js';

export interface SceneSize {
  width: number;
  height: number;
  /** Block side in pixels (default 8). */
  cell?: number;
}

/** The RGB pixels of scene `seed`. */
export function scenePixels(seed: number, size: SceneSize): Buffer {
  const { width: W, height: H } = size;
  const cell = size.cell ?? 8;
  const rng = new Rng(seed);
  const px = Buffer.alloc(W * H * 3);
  for (let by = 0; by < Math.ceil(H / cell); by++) {
    for (let bx = 0; bx < Math.ceil(W / cell); bx++) {
      const rgb = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
      for (let y = by * cell; y < Math.min(H, (by + 1) * cell); y++) for (let x = bx * cell; x < Math.min(W, (bx + 1) * cell); x++) for (let c = 0; c < 3; c++) px[(y * W + x) * 3 + c] = rgb[c]!;
    }
  }
  return px;
}

/** Writes scene `seed` as PNG (optionally mirrored left-right). */
export async function writeScene(file: string, seed: number, size: SceneSize, opts: { mirrored?: boolean } = {}): Promise<void> {
  const img = sharp(scenePixels(seed, size), { raw: { width: size.width, height: size.height, channels: 3 } });
  await (opts.mirrored ? img.flop() : img).png().toFile(file);
}

/** Writes the same pixels as `from` with other bytes (an uncompressed PNG). */
export async function reencodeLossless(from: string, to: string): Promise<void> {
  await sharp(from).png({ compressionLevel: 0, adaptiveFiltering: false }).toFile(to);
}

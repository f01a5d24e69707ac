/**
 * The one image-orientation policy. A dataset's pixel coordinates, stored sizes, thumbnails,
 * model inputs and exports are all in one frame, decided by its format here:
 *
 * - benchmarks (SPair-71k, PF-Pascal, PF-Willow): the stored pixel frame. Their keypoints were
 *   annotated that way and the reference code reads images with PIL, which ignores EXIF.
 * - user datasets (folder, COCO): the displayed frame, EXIF orientation applied, because browsers
 *   and web annotation tools show (and so annotate) phone photos that way.
 *
 * Standalone files (`sd4match match --src/--trg`) are read in the displayed frame, like a photo
 * viewer would show them. Everything else asks `appliesExifOrientation` and the helpers below;
 * nothing reads `metadata().orientation` on its own.
 */
import sharp, { type SharpOptions, type Sharp } from 'sharp';
import type { DatasetFormat } from '../datasets/domain.js';

/** Whether a dataset of this format uses the displayed frame (EXIF orientation applied). */
export function appliesExifOrientation(format: DatasetFormat): boolean {
  switch (format) {
    case 'spair':
    case 'pfpascal':
    case 'pfwillow':
      return false;
    case 'folder':
    case 'coco':
      return true;
  }
}

/** The EXIF orientation tag (1..8) from sharp's metadata; 1 (as stored) when absent or invalid. */
export function exifOrientation(meta: { orientation?: number }): number {
  const o = meta.orientation;
  return o !== undefined && Number.isInteger(o) && o >= 1 && o <= 8 ? o : 1;
}

/** Orientations 5..8 turn the image a quarter: the displayed width is the stored height. */
export function swapsAxes(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

/** The image's size in the chosen frame, from sharp's metadata (stored width, height, orientation). */
export function frameSize(meta: { width?: number; height?: number; orientation?: number }, orient: boolean): { width: number; height: number } {
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  return orient && swapsAxes(exifOrientation(meta)) ? { width: h, height: w } : { width: w, height: h };
}

/**
 * A sharp pipeline whose pixels are in the chosen frame: auto-oriented by EXIF when `orient`,
 * otherwise the stored pixels (sharp does not rotate unless asked). Output written by sharp
 * carries no orientation tag either way (metadata is not kept).
 */
export function inFrame(s: Sharp, orient: boolean): Sharp {
  return orient ? s.rotate() : s;
}

/**
 * The image as model inputs read it: in the chosen frame, the turn made before anything else so
 * that what follows (resampling) sees exactly the pixels of a physically turned file, as PIL's
 * `exif_transpose` then `resize` would (sharp's own auto-orient resamples before it turns, which
 * rounds differently). Untagged images and the stored frame open the file directly.
 */
export async function openInFrame(file: string, orient: boolean, orientation: number, options: SharpOptions): Promise<Sharp> {
  if (!orient || orientation === 1) return sharp(file, options);
  // Lossless and uncompressed: the turned pixels, converted to sRGB as any output would be.
  const turned = await sharp(file, options).rotate().png({ compressionLevel: 0 }).toBuffer();
  return sharp(turned, options);
}

/**
 * Whether a browser showing the file as is (it applies EXIF orientation to <img> and canvas
 * drawImage by default) would show another frame than the chosen one: a stored-frame image
 * with an orientation tag. Such files are served re-encoded in their frame.
 */
export function browserShowsOtherFrame(meta: { orientation?: number }, orient: boolean): boolean {
  return !orient && exifOrientation(meta) !== 1;
}

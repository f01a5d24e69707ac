/**
 * Image checks with sharp: size, format, content hash, and a full decode so truncated or corrupt
 * files are caught at import time rather than in the middle of a training run. JPEGs decode with
 * shrink-on-load (every entropy-coded block is still read, so truncation is still detected).
 * Minor JPEG warnings that decoders routinely tolerate (e.g. extraneous bytes before a marker)
 * are accepted, as PIL accepts them; truncated or undecodable data is not.
 *
 * Sizes are the stored pixel dimensions; EXIF orientation is not applied, because benchmark
 * keypoints are annotated in the stored frame (PIL ignores it too).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { AppError } from '../../shared/errors.js';

/** An image that cannot be used; `reason` is the message without the file name. */
export class ImageProblem extends AppError {
  constructor(
    readonly file: string,
    readonly reason: string,
    code: 'IMAGE_INVALID' | 'NOT_FOUND' = 'IMAGE_INVALID',
  ) {
    super(code, `${file}: ${reason}`);
  }
}

export interface ImageProbe {
  width: number;
  height: number;
  /** sharp's format name: jpeg, png, webp, tiff, gif, heif. */
  format: string;
  bytes: number;
  sha256: string;
}

/** File extensions treated as images when scanning folders. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif']);

function shortReason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!.replace(/^Input (buffer|file) /, '').trim();
}

/**
 * Reads, hashes and fully decodes an image. `displayPath` names the file in errors
 * (IMAGE_INVALID for undecodable data, NOT_FOUND for a missing file).
 */
export async function probeImage(absPath: string, displayPath = absPath): Promise<ImageProbe> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(absPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageProblem(displayPath, 'image file is missing', 'NOT_FOUND');
    throw new ImageProblem(displayPath, `cannot read the image (${code ?? shortReason(err)})`);
  }
  return probeImageBuffer(buf, displayPath);
}

export async function probeImageBuffer(buf: Buffer, displayPath: string): Promise<ImageProbe> {
  if (buf.length === 0) throw new ImageProblem(displayPath, 'the image file is empty');
  const meta = await sharp(buf, { failOn: 'error' })
    .metadata()
    .catch((err: unknown) => {
      throw new ImageProblem(displayPath, `not a readable image (${shortReason(err)})`);
    });
  const { width, height, format } = meta;
  if (!width || !height || !format) throw new ImageProblem(displayPath, 'the image has no size');
  try {
    await sharp(buf, { failOn: 'error' })
      .resize({ width: Math.max(1, Math.ceil(width / 8)), fastShrinkOnLoad: true })
      .raw()
      .toBuffer();
  } catch (err) {
    throw new ImageProblem(displayPath, `corrupt or truncated ${format} image (${shortReason(err)})`);
  }
  return { width, height, format, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

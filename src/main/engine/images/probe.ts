/**
 * Image checks with sharp: size, format, content hash, and a full decode so truncated or corrupt
 * files are caught at import time rather than in the middle of a training run. JPEGs decode with
 * shrink-on-load (every entropy-coded block is still read, so truncation is still detected).
 * Minor JPEG warnings that decoders routinely tolerate (e.g. extraneous bytes before a marker)
 * are accepted, as PIL accepts them; truncated or undecodable data is not.
 *
 * Sizes are in the frame the caller asks for (`orient`: EXIF orientation applied, the displayed
 * frame; otherwise the stored pixels), as the dataset's format decides (images/orientation.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { AppError } from '../../shared/errors.js';
import { exifOrientation, frameSize } from './orientation.js';

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
  /** Size in the asked-for frame. */
  width: number;
  height: number;
  /** Size of the pixels as stored. */
  storedWidth: number;
  storedHeight: number;
  /** EXIF orientation tag, 1..8 (1 when absent). */
  orientation: number;
  /** sharp's format name: jpeg, png, webp, tiff, gif, heif. */
  format: string;
  bytes: number;
  sha256: string;
}

/** File extensions treated as images when scanning folders. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif']);

function shortReason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m
    .split('\n')[0]!
    .replace(/^Input (buffer|file) /, '')
    .trim();
}

export interface ProbeOptions {
  /** Sizes in the displayed frame (EXIF orientation applied); default the stored frame. */
  orient?: boolean;
}

/**
 * Reads, hashes and fully decodes an image. `displayPath` names the file in errors
 * (IMAGE_INVALID for undecodable data, NOT_FOUND for a missing file).
 */
export async function probeImage(absPath: string, displayPath = absPath, opts: ProbeOptions = {}): Promise<ImageProbe> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(absPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageProblem(displayPath, 'image file is missing', 'NOT_FOUND');
    throw new ImageProblem(displayPath, `cannot read the image (${code ?? shortReason(err)})`);
  }
  return probeImageBuffer(buf, displayPath, opts);
}

export async function probeImageBuffer(buf: Buffer, displayPath: string, opts: ProbeOptions = {}): Promise<ImageProbe> {
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
  const framed = frameSize(meta, opts.orient ?? false);
  return {
    width: framed.width,
    height: framed.height,
    storedWidth: width,
    storedHeight: height,
    orientation: exifOrientation(meta),
    format,
    bytes: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
  };
}

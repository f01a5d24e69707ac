/**
 * Images into model tensors. Decoding and resampling use sharp (libvips): RGB, resized to S x S
 * with a linear (triangle) kernel as PIL's bilinear resize does, without JPEG shrink-on-load.
 * Pixels are in the stored frame unless `orient` asks for EXIF orientation to be applied (the
 * dataset's format decides: images/orientation.ts); the reference's PIL reads the stored frame.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { AppError } from '../../../shared/errors.js';
import { exifOrientation, frameSize, openInFrame } from '../../images/orientation.js';
import type { HostTensor } from '../../onnx/ir.js';

export interface DecodedImage {
  /** Original size, in the chosen frame. */
  width: number;
  height: number;
}

/**
 * Decodes `file` in its frame, mirrored first when `flip` asks (libvips' resampling is not
 * mirror-symmetric, so mirroring after a resize would not give the pixels of a mirrored copy of
 * the file; mirroring first does), then applies `pipeline`.
 */
async function decode(file: string, orient: boolean, pipeline: (s: Sharp) => Sharp, size: { w: number; h: number }, flip = false): Promise<{ data: Buffer; original: DecodedImage }> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { failOn: 'truncated' }).metadata();
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `${file}: cannot be decoded as an image (${(e as Error).message})`);
  }
  try {
    let frame = (await openInFrame(file, orient, exifOrientation(meta), { failOn: 'truncated' })).removeAlpha().toColourspace('srgb');
    if (flip) {
      // sharp mirrors after resizing whatever the call order: mirror the full frame in a pass of its own
      const full = await frame.flop().raw().toBuffer({ resolveWithObject: true });
      frame = sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } });
    }
    const img = pipeline(frame);
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size.w || info.height !== size.h) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return { data, original: frameSize(meta, orient) };
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `${file}: cannot be decoded as an image (${(e as Error).message})`);
  }
}

/** Options shared by the loaders: `orient` applies EXIF orientation (default: the stored frame). */
export interface LoadOptions {
  flip?: boolean;
  orient?: boolean;
}

/**
 * [1, 3, S, S] float32 in [-1, 1] (the VAE's input), plus the original size and `pixelKey`, a hash
 * of the S x S pixels: the identity the pipeline's random draws derive from, the same for a file,
 * a losslessly re-encoded copy and an image mirrored in memory with the same pixels.
 */
export async function loadImageForVae(file: string, size: number, opts: LoadOptions = {}): Promise<{ pixels: HostTensor; original: DecodedImage; pixelKey: string }> {
  const { data, original } = await decode(file, opts.orient ?? false, (s) => s.resize(size, size, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false }), { w: size, h: size }, opts.flip);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[3 * i + c] / 255) * 2 - 1;
  }
  return { pixels: { dtype: 'float32', dims: [1, 3, size, size], data: out }, original, pixelKey: createHash('sha256').update(data).digest('hex').slice(0, 32) };
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/**
 * DINOv2's preprocessing: shortest side to 256 (bicubic), centre crop 224, ImageNet mean/std;
 * with `fill`, the whole image resized to 224 x 224 instead (the DINOv2 matching baseline keeps
 * the full frame so keypoints map onto its patch grid). [1, 3, 224, 224] float32.
 */
export async function loadImageForDino(file: string, opts: LoadOptions & { fill?: boolean } = {}): Promise<HostTensor> {
  const meta = await sharp(file)
    .metadata()
    .catch((e: Error) => {
      throw new AppError('INVALID_ARGUMENT', `${file}: cannot be decoded as an image (${e.message})`);
    });
  const orient = opts.orient ?? false;
  const { width: w, height: h } = frameSize(meta, orient);
  const scale = 256 / Math.min(w, h);
  const rw = opts.fill ? 224 : Math.max(224, Math.round(w * scale));
  const rh = opts.fill ? 224 : Math.max(224, Math.round(h * scale));
  const left = Math.floor((rw - 224) / 2);
  const top = Math.floor((rh - 224) / 2);
  const { data } = await decode(
    file,
    orient,
    (s) => s.resize(rw, rh, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false }).extract({ left, top, width: 224, height: 224 }),
    { w: 224, h: 224 },
    opts.flip,
  );
  const plane = 224 * 224;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[3 * i + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
  }
  return { dtype: 'float32', dims: [1, 3, 224, 224], data: out };
}

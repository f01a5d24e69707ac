/**
 * Images for the UI, by id only: `GET /images/<id>[?size=N]` on the browser-mode server and
 * `sd4match-image://image/<id>[?size=N]` in Electron, both answered here; generated images (PNG)
 * likewise at `GET /generated/<id>` and `sd4match-image://generated/<id>`.
 *
 * The client never names a path. The id segment must be plain decimal digits exactly as sent (no
 * decoding: `..`, `%2e%2e%2f`, `%252e`, backslashes and anything else are refused before the store
 * is asked), and the file is opened through ImageAccess, which resolves the stored relative path
 * inside its dataset root (symlinks included) and refuses anything that leaves it. `size` asks for
 * a cached JPEG thumbnail fitting in size x size. Formats browsers cannot show (TIFF) are served as
 * a JPEG. Pixels are in the image's frame (engine/images/orientation.ts) either way.
 */
import { AppError } from '../shared/errors.js';
import type { Api } from '../api/handlers.js';
import { MAX_THUMBNAIL_SIDE, MIN_THUMBNAIL_SIDE } from '../contract/wire.js';

/** Path prefix of the HTTP route. */
export const IMAGE_ROUTE = '/images/';
/** Path prefix of generated images (PNG, by id; no thumbnails). */
export const GENERATED_ROUTE = '/generated/';
/** Scheme and hosts of the Electron protocol: `sd4match-image://image/<id>`, `sd4match-image://generated/<id>`. */
export const IMAGE_SCHEME = 'sd4match-image';
export const IMAGE_HOST = 'image';
export const GENERATED_HOST = 'generated';

export interface ImageRequest {
  id: number;
  /** Thumbnail side, or null for the original. */
  size: number | null;
  /** A dataset image (default) or a generated one. */
  generated?: boolean;
}

/** What to answer: a file to stream with headers, or a status with a short text. */
export type ImageReply =
  | { kind: 'file'; status: 200; file: string; contentType: string; etag: string; bytes: number }
  | { kind: 'not-modified'; status: 304; etag: string }
  | { kind: 'error'; status: 400 | 403 | 404 | 500; message: string };

const CONTENT_TYPES: Record<string, string> = {
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
};

const ID = /^[1-9][0-9]{0,14}$/;
const SIZE = /^[1-9][0-9]{0,4}$/;

/**
 * Reads the id segment (everything after the route prefix, still percent-encoded as received) and
 * the query. Returns the request, or why it is refused.
 */
export function parseImageRequest(rawId: string, query: URLSearchParams): ImageRequest | { status: 400; message: string } {
  if (!ID.test(rawId)) return { status: 400, message: 'Bad Request: images are addressed by numeric id only' };
  const id = Number(rawId);
  const rawSize = query.get('size');
  if (rawSize === null) return { id, size: null };
  if (!SIZE.test(rawSize)) return { status: 400, message: `Bad Request: size must be an integer from ${MIN_THUMBNAIL_SIDE} to ${MAX_THUMBNAIL_SIDE}` };
  const size = Number(rawSize);
  if (size < MIN_THUMBNAIL_SIDE || size > MAX_THUMBNAIL_SIDE) return { status: 400, message: `Bad Request: size must be an integer from ${MIN_THUMBNAIL_SIDE} to ${MAX_THUMBNAIL_SIDE}` };
  return { id, size };
}

/** Reads a generated image's id segment (digits only, as for dataset images; no query). */
export function parseGeneratedRequest(rawId: string): ImageRequest | { status: 400; message: string } {
  if (!ID.test(rawId)) return { status: 400, message: 'Bad Request: generated images are addressed by numeric id only' };
  return { id: Number(rawId), size: null, generated: true };
}

/** Parses a `sd4match-image://image/<id>?size=N` or `sd4match-image://generated/<id>` URL (Electron). */
export function parseImageUrl(url: string): ImageRequest | { status: 400; message: string } {
  if (!URL.canParse(url)) return { status: 400, message: 'Bad Request: not a URL' };
  const u = new URL(url);
  if (u.protocol === `${IMAGE_SCHEME}:` && u.hostname === GENERATED_HOST) return parseGeneratedRequest(u.pathname.slice(1));
  if (u.protocol !== `${IMAGE_SCHEME}:` || u.hostname !== IMAGE_HOST)
    return { status: 400, message: `Bad Request: expected ${IMAGE_SCHEME}://${IMAGE_HOST}/<id> or ${IMAGE_SCHEME}://${GENERATED_HOST}/<id>` };
  return parseImageRequest(u.pathname.slice(1), u.searchParams);
}

/** Finds the file to serve for a parsed request (`ifNoneMatch`: the client's cached ETag). */
export async function resolveImage(api: Api, req: ImageRequest, ifNoneMatch?: string): Promise<ImageReply> {
  try {
    if (req.generated) {
      const g = api.context.images.generated(req.id);
      // the file's content is decided by its cache key
      const etag = `"g-${g.record.cacheKey.slice(0, 32)}"`;
      if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === etag)) return { kind: 'not-modified', status: 304, etag };
      return { kind: 'file', status: 200, file: g.file, contentType: 'image/png', etag, bytes: g.record.bytes };
    }
    const img = await api.context.images.stored(req.id);
    const webSafe = img.format in CONTENT_TYPES;
    const size = req.size ?? (webSafe ? null : MAX_THUMBNAIL_SIDE);
    // Originals a browser would turn by EXIF orientation come as a copy in the image's frame; the
    // tag names the representation, so a client's cache of another one is not reused.
    if (size === null) {
      const original = await api.context.images.display(req.id);
      const etag = `"${img.sha256.slice(0, 32)}-${original.reencoded ? 'f' : 'o'}"`;
      if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === etag)) return { kind: 'not-modified', status: 304, etag };
      return { kind: 'file', status: 200, file: original.path, contentType: CONTENT_TYPES[original.format]!, etag, bytes: original.bytes };
    }
    const etag = `"${img.sha256.slice(0, 32)}-${size}${img.orient ? 'e' : ''}"`;
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === etag)) return { kind: 'not-modified', status: 304, etag };
    const thumb = await api.context.images.thumbnail(req.id, size);
    return { kind: 'file', status: 200, file: thumb.path, contentType: 'image/jpeg', etag, bytes: thumb.bytes };
  } catch (err) {
    if (err instanceof AppError) {
      // The message names the stored path, not the file system outside the root.
      if (err.code === 'FORBIDDEN') return { kind: 'error', status: 403, message: 'Forbidden: the image path leaves its dataset root' };
      if (err.code === 'NOT_FOUND') return { kind: 'error', status: 404, message: `Not Found: ${err.message}` };
      if (err.code === 'INVALID_ARGUMENT') return { kind: 'error', status: 400, message: `Bad Request: ${err.message}` };
      return { kind: 'error', status: 500, message: err.message };
    }
    console.error(`image ${req.id} failed:`, err);
    return { kind: 'error', status: 500, message: 'Internal Server Error' };
  }
}

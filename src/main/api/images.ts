/**
 * Image bytes for the two image transports (the HTTP route of `sd4match serve` and Electron's
 * `sd4match-image://` protocol): an image's stored file (or its copy in the image's frame), or a
 * JPEG thumbnail of it, through the
 * application's one image access (which keeps every file inside its dataset root).
 */
import { imageAccess } from '../services/app/catalog.js';
import { generatedFile } from '../services/generate/plan.js';
import type { Api } from './handlers.js';

export { MAX_THUMBNAIL_SIDE, MIN_THUMBNAIL_SIDE } from '../services/images/access.js';

/** An image's file as stored (path resolved inside its dataset root), with its format and hash. */
export function storedImage(api: Api, id: number) {
  return imageAccess(api.context).getImage(id);
}

/**
 * What to send for an image's original: the file, or a cached copy in the image's frame when a
 * browser would show the file turned by its EXIF orientation (see ImageAccess.display).
 */
export function displayImage(api: Api, id: number) {
  return imageAccess(api.context).display(id);
}

/** A cached JPEG thumbnail of an image whose longer side is `size` pixels. */
export function imageThumbnail(api: Api, id: number, size: number) {
  return imageAccess(api.context).thumbnail(id, size);
}

/** A generated image's PNG file (inside the cache folder) and its record. */
export function generatedImage(api: Api, id: number) {
  return generatedFile(api.context.services(), id);
}

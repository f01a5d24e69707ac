/**
 * Image bytes for the two image transports (the HTTP route of `sd4match serve` and Electron's
 * `sd4match-image://` protocol): an image's stored file (or its copy in the image's frame), a JPEG
 * thumbnail of it, or a generated image's PNG, through the application's one image access (which
 * keeps every file inside its dataset root). The application's context carries one
 * (`AppContext.images`), so the transports reach these through the API object, importing no service.
 */
import type { Services } from '../app/context.js';
import { generatedFile } from '../generate/plan.js';
import { type DisplayImage, type ImageFile, imageAccessOf, type Thumbnail } from './access.js';
import type { GeneratedImageRecord } from '../../store/repositories/generated-images.js';

export interface ImageFiles {
  /** An image's file as stored (path resolved inside its dataset root), with its format and hash. */
  stored(id: number): Promise<ImageFile>;
  /**
   * What to send for an image's original: the file, or a cached copy in the image's frame when a
   * browser would show the file turned by its EXIF orientation (see ImageAccess.display).
   */
  display(id: number): Promise<DisplayImage>;
  /** A cached JPEG thumbnail of an image whose longer side is `size` pixels. */
  thumbnail(id: number, size: number): Promise<Thumbnail>;
  /** A generated image's PNG file (inside the cache folder) and its record. */
  generated(id: number): { file: string; record: GeneratedImageRecord };
}

/** The image files of an application's store, opened on the first request as for every use case. */
export function imageFiles(services: () => Services): ImageFiles {
  return {
    stored: (id) => imageAccessOf(services().store).getImage(id),
    display: (id) => imageAccessOf(services().store).display(id),
    thumbnail: (id, size) => imageAccessOf(services().store).thumbnail(id, size),
    generated: (id) => generatedFile(services(), id),
  };
}

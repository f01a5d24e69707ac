/**
 * One image, or a category's annotated images, as the dialogs and forms ask for them (the
 * browsing grid and the strip page through `ImagePages`). Each call rejects with the engine's
 * error: the caller says what failed the way it does (a toast, a form error, the suggest panel).
 */
import type { ImageDetail, ImageListItem } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';

class Images {
  /** An image's details (size, path, its instances). */
  get(id: number): Promise<ImageDetail> {
    return getApi().invoke('images:get', { id });
  }

  /** The first thousand images of a category that have keypoints, and how many there are. */
  annotated(datasetId: number, categoryId: number): Promise<{ items: ImageListItem[]; total: number }> {
    return getApi().invoke('images:list', { datasetId, categoryId, filter: 'annotated', limit: 1000 });
  }
}

export const images = new Images();

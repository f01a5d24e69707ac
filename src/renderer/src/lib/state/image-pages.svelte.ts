/** A dataset's images in path order, a page at a time (the browsing grid and the annotation strip). */
import type { ImageFilter, ImageListItem, PairSummary, Split } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';
import { Paged } from './paged.svelte.js';

export interface ImageQuery {
  datasetId: number;
  categoryId?: number | undefined;
  filter?: ImageFilter | undefined;
  search?: string | undefined;
}

export class ImagePages extends Paged<ImageListItem, ImageQuery> {
  constructor() {
    super(
      (q, offset, limit) =>
        getApi().invoke('images:list', {
          datasetId: q.datasetId,
          ...(q.categoryId !== undefined ? { categoryId: q.categoryId } : {}),
          ...(q.filter ? { filter: q.filter } : {}),
          ...(q.search ? { search: q.search } : {}),
          offset,
          limit,
        }),
      'images',
    );
  }

  /** An image's index in the path-order list of a dataset's category; rejects with the engine's error. */
  async locate(datasetId: number, categoryId: number, imageId: number): Promise<number> {
    return (await getApi().invoke('images:locate', { datasetId, categoryId, imageId })).index;
  }

  /** Updates the keypoint count of an image if it is loaded (annotation events). */
  setKeypoints(imageId: number, keypoints: number): void {
    this.update(
      (item) => item.id === imageId && item.keypoints !== keypoints,
      (item) => ({ ...item, keypoints }),
    );
  }
}

export interface PairQuery {
  datasetId: number;
  split?: Split | undefined;
  categoryId?: number | undefined;
  search?: string | undefined;
  minPoints?: number | undefined;
}

/** A dataset's pairs (split order, then list order), a page at a time. */
export class PairPages extends Paged<PairSummary, PairQuery> {
  constructor() {
    super(
      (q, offset, limit) =>
        getApi().invoke('pairs:list', {
          datasetId: q.datasetId,
          ...(q.split ? { split: q.split } : {}),
          ...(q.categoryId !== undefined ? { categoryId: q.categoryId } : {}),
          ...(q.search ? { search: q.search } : {}),
          ...(q.minPoints ? { minPoints: q.minPoints } : {}),
          offset,
          limit,
        }),
      'pairs',
    );
  }
}

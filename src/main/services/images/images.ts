/** Use cases of a dataset's images: a page of them in path order, where one sits in that order, and one with its annotations. */
import { requireDataset } from '../datasets/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import type { ImageDetail } from '../../contract/index.js';
import { AppError } from '../../shared/errors.js';
import type { AppContext } from '../app/app.js';
import { storeOf } from '../app/catalog.js';

/** Which of a dataset's images (as the browsing grid filters them). */
export interface ImageQuery {
  datasetId: number;
  categoryId?: number;
  filter: 'all' | 'annotated' | 'unannotated';
  search?: string;
}

/** A page of `ImageQuery`'s images in path order. */
export interface ImagePageQuery extends ImageQuery {
  offset: number;
  limit: number;
}

export async function listImages(ctx: AppContext, { datasetId, categoryId, filter, search, offset, limit }: ImagePageQuery) {
  return storeOf(ctx).read((db) => {
    requireDataset(db, datasetId);
    return new ImagesRepo(db).page(datasetId, { categoryId, filter, search: search || undefined, offset, limit });
  });
}

export async function locateImage(ctx: AppContext, { datasetId, categoryId, filter, search, imageId }: ImageQuery & { imageId: number }) {
  return storeOf(ctx).read((db) => {
    requireDataset(db, datasetId);
    return { index: new ImagesRepo(db).indexOf(datasetId, imageId, { categoryId, filter, search: search || undefined }) };
  });
}

export async function imageDetail(ctx: AppContext, id: number): Promise<ImageDetail> {
  return storeOf(ctx).read((db) => {
    const repo = new ImagesRepo(db);
    const img = repo.get(id);
    if (!img) throw new AppError('NOT_FOUND', `no image with id ${id}`);
    return {
      id: img.id,
      datasetId: img.datasetId,
      path: img.path,
      width: img.width,
      height: img.height,
      format: img.format,
      bytes: img.bytes,
      categoryId: img.categoryId,
      annotations: repo.annotations(id).map((a) => ({ categoryId: a.categoryId, instance: a.instance, bbox: a.bbox, keypoints: a.keypoints })),
    };
  });
}

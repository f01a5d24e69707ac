/**
 * Images of a dataset and their image-level annotations (object instances with a box and
 * keypoints x, y, visibility): what the annotation UI edits and COCO import/export carries.
 */
import path from 'node:path';
import { type Db, now, prepareCached } from '../db.js';
import type { ImageListItem } from '../../contract/datasets.js';

import type { Box, DatasetFormat } from '../../engine/datasets/domain.js';

export type { Box } from '../../engine/datasets/domain.js';

export interface ImageRecord {
  id: number;
  datasetId: number;
  /** Relative to the dataset root, '/' separators. */
  path: string;
  categoryId: number | null;
  width: number;
  height: number;
  format: string;
  bytes: number;
  sha256: string;
  externalId: number | null;
}

export interface ImageWithRoot extends ImageRecord {
  root: string;
  /** The dataset's format (which decides the image's frame: engine/images/orientation.ts). */
  datasetFormat: DatasetFormat;
}

/** One labelled keypoint: `kp` indexes the category's keypoint list; visibility 1 (hidden) or 2 (visible). */
export interface Keypoint {
  kp: number;
  x: number;
  y: number;
  visibility: 1 | 2;
}

export interface Annotation {
  id: number;
  imageId: number;
  categoryId: number;
  instance: number;
  bbox: Box | null;
  area: number | null;
  iscrowd: 0 | 1;
  externalId: number | null;
  keypoints: Keypoint[];
}

export interface ImageUpsert {
  path: string;
  categoryId: number | null;
  width: number;
  height: number;
  format: string;
  bytes: number;
  sha256: string;
  externalId?: number | null;
}

export interface AnnotationUpsert {
  imageId: number;
  categoryId: number;
  instance: number;
  bbox: Box | null;
  area?: number | null;
  iscrowd?: 0 | 1;
  externalId?: number | null;
}

interface ImageRow {
  id: number;
  dataset_id: number;
  path: string;
  category_id: number | null;
  width: number;
  height: number;
  format: string;
  bytes: number;
  sha256: string;
  external_id: number | null;
}

interface AnnotationRow {
  id: number;
  image_id: number;
  category_id: number;
  instance: number;
  bbox_x1: number | null;
  bbox_y1: number | null;
  bbox_x2: number | null;
  bbox_y2: number | null;
  area: number | null;
  iscrowd: 0 | 1;
  external_id: number | null;
}

function toImage(r: ImageRow): ImageRecord {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    path: r.path,
    categoryId: r.category_id,
    width: r.width,
    height: r.height,
    format: r.format,
    bytes: r.bytes,
    sha256: r.sha256,
    externalId: r.external_id,
  };
}

function toAnnotation(r: AnnotationRow, keypoints: Keypoint[]): Annotation {
  return {
    id: r.id,
    imageId: r.image_id,
    categoryId: r.category_id,
    instance: r.instance,
    bbox: r.bbox_x1 === null ? null : [r.bbox_x1, r.bbox_y1!, r.bbox_x2!, r.bbox_y2!],
    area: r.area,
    iscrowd: r.iscrowd,
    externalId: r.external_id,
    keypoints,
  };
}

/** Which images a page lists: all, those with at least one labelled keypoint, or those without. */
export type ImageFilter = 'all' | 'annotated' | 'unannotated';

export interface ImagePageQuery {
  categoryId?: number;
  filter?: ImageFilter;
  /** Case-insensitive substring of the path. */
  search?: string;
  offset?: number;
  limit?: number;
}

/**
 * SQL: image `i` belongs to category `c` (table aliases of images and categories). A benchmark
 * files each image under one category (`images.category_id`); an image also belongs to every
 * category it is annotated in (COCO files an image annotated in several categories under none);
 * and an image with no annotation at all and no filed category (COCO, keypoint annotation) belongs
 * to every category of its dataset, waiting to be annotated. The one statement of the rule: lists,
 * pages, counts and membership checks all use it.
 */
export function imageOfCategorySql(i: string, c: string): string {
  // cheapest first: an unannotated image is decided with one index probe
  return `(${c}.dataset_id = ${i}.dataset_id AND (${i}.category_id = ${c}.id
    OR (${i}.category_id IS NULL AND NOT EXISTS (SELECT 1 FROM annotations am WHERE am.image_id = ${i}.id))
    OR EXISTS (SELECT 1 FROM annotations am WHERE am.image_id = ${i}.id AND am.category_id = ${c}.id)))`;
}

/**
 * SQL: image `i` has a labelled keypoint (visibility 1 or 2: unlabelled keypoints have no row) in
 * category `c`, in any instance; benchmarks' keypoints derived from their pairs are such rows.
 */
export function labelledInCategorySql(i: string, c: string): string {
  return `EXISTS (SELECT 1 FROM annotations al JOIN keypoints kl ON kl.annotation_id = al.id WHERE al.image_id = ${i}.id AND al.category_id = ${c}.id)`;
}

/**
 * The page query's WHERE clause and its parameters (shared by the rows and the count). With a
 * category, "annotated" means labelled in that category.
 */
function pageWhere(datasetId: number, q: ImagePageQuery): { where: string; params: unknown[] } {
  const parts = ['i.dataset_id = ?'];
  const params: unknown[] = [datasetId];
  if (q.categoryId !== undefined) {
    const labelled = labelledInCategorySql('i', 'c');
    const filter = q.filter === 'annotated' ? ` AND ${labelled}` : q.filter === 'unannotated' ? ` AND NOT ${labelled}` : '';
    parts.push(`EXISTS (SELECT 1 FROM categories c WHERE c.id = ? AND ${imageOfCategorySql('i', 'c')}${filter})`);
    params.push(q.categoryId);
  } else {
    const hasKps = 'EXISTS (SELECT 1 FROM annotations a JOIN keypoints k ON k.annotation_id = a.id WHERE a.image_id = i.id)';
    if (q.filter === 'annotated') parts.push(hasKps);
    else if (q.filter === 'unannotated') parts.push(`NOT ${hasKps}`);
  }
  if (q.search) {
    parts.push("i.path LIKE ? ESCAPE '\\'");
    params.push(`%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  return { where: parts.join(' AND '), params };
}

/** One keypoint of a category's annotated image (`keypointRowsOfCategory`). */
export interface CategoryKeypointRow {
  id: number;
  path: string;
  bbox_x1: number | null;
  bbox_y1: number | null;
  bbox_x2: number | null;
  bbox_y2: number | null;
  kp: number;
  x: number;
  y: number;
  visibility: 1 | 2;
}

/** An image of a category (`imagesOfCategory`). */
export interface CategoryImage {
  id: number;
  path: string;
  width: number;
  height: number;
  /** Has a labelled keypoint in the category. */
  labelled: boolean;
}

export class ImagesRepo {
  constructor(private readonly db: Db) {}

  get(id: number): ImageWithRoot | undefined {
    const r = prepareCached(this.db, 'SELECT i.*, d.root, d.format AS dataset_format FROM images i JOIN datasets d ON d.id = i.dataset_id WHERE i.id = ?').get(id) as
      (ImageRow & { root: string; dataset_format: DatasetFormat }) | undefined;
    return r && { ...toImage(r), root: r.root, datasetFormat: r.dataset_format };
  }

  findByPath(datasetId: number, relPath: string): ImageRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM images WHERE dataset_id = ? AND path = ?').get(datasetId, relPath) as ImageRow | undefined;
    return r && toImage(r);
  }

  /** Images of a dataset (optionally those of one category, see imageOfCategorySql), in path order, a page at a time. */
  list(datasetId: number, options: { categoryId?: number; limit?: number; offset?: number } = {}): ImageRecord[] {
    const { where, params } = pageWhere(datasetId, { categoryId: options.categoryId });
    const rows = prepareCached(this.db, `SELECT i.* FROM images i WHERE ${where} ORDER BY i.path LIMIT ? OFFSET ?`).all(...params, options.limit ?? -1, options.offset ?? 0);
    return (rows as ImageRow[]).map(toImage);
  }

  /** One page of a dataset's images in path order, with keypoint counts, and the total matching. */
  page(datasetId: number, q: ImagePageQuery = {}): { total: number; items: ImageListItem[] } {
    const { where, params } = pageWhere(datasetId, q);
    const total = (prepareCached(this.db, `SELECT count(*) AS n FROM images i WHERE ${where}`).get(...params) as { n: number }).n;
    const rows = prepareCached(
      this.db,
      `SELECT i.id, i.path, i.width, i.height, i.category_id,
         (SELECT count(*) FROM annotations a JOIN keypoints k ON k.annotation_id = a.id WHERE a.image_id = i.id AND (@cat IS NULL OR a.category_id = @cat)) AS n_kps
       FROM images i WHERE ${where} ORDER BY i.path LIMIT ? OFFSET ?`,
    ).all({ cat: q.categoryId ?? null }, ...params, q.limit ?? -1, q.offset ?? 0) as { id: number; path: string; width: number; height: number; category_id: number | null; n_kps: number }[];
    return { total, items: rows.map((r) => ({ id: r.id, path: r.path, width: r.width, height: r.height, categoryId: r.category_id, keypoints: r.n_kps })) };
  }

  /** The images of a category (imageOfCategorySql) by path, with whether each has a labelled keypoint in it. */
  imagesOfCategory(datasetId: number, categoryId: number): CategoryImage[] {
    const rows = prepareCached(
      this.db,
      `SELECT i.id, i.path, i.width, i.height, ${labelledInCategorySql('i', 'c')} AS labelled
       FROM images i JOIN categories c ON c.id = ? WHERE i.dataset_id = ? AND ${imageOfCategorySql('i', 'c')} ORDER BY i.path`,
    ).all(categoryId, datasetId) as { id: number; path: string; width: number; height: number; labelled: 0 | 1 }[];
    return rows.map((r) => ({ id: r.id, path: r.path, width: r.width, height: r.height, labelled: r.labelled === 1 }));
  }

  /** Whether the image belongs to the category (imageOfCategorySql). */
  isImageOfCategory(imageId: number, categoryId: number): boolean {
    const r = prepareCached(this.db, `SELECT EXISTS (SELECT 1 FROM images i JOIN categories c ON c.id = ? WHERE i.id = ? AND ${imageOfCategorySql('i', 'c')}) AS yes`).get(categoryId, imageId) as {
      yes: 0 | 1;
    };
    return r.yes === 1;
  }

  /** Position of an image in the page order of `q` (without offset/limit), or -1 when it is not listed. */
  indexOf(datasetId: number, imageId: number, q: ImagePageQuery = {}): number {
    const { where, params } = pageWhere(datasetId, q);
    const own = prepareCached(this.db, `SELECT i.path FROM images i WHERE i.id = ? AND ${where}`).get(imageId, ...params) as { path: string } | undefined;
    if (!own) return -1;
    return (prepareCached(this.db, `SELECT count(*) AS n FROM images i WHERE ${where} AND i.path < ?`).get(...params, own.path) as { n: number }).n;
  }

  count(datasetId: number): number {
    return (prepareCached(this.db, 'SELECT count(*) AS n FROM images WHERE dataset_id = ?').get(datasetId) as { n: number }).n;
  }

  /** Ids of a dataset's images by path (import bookkeeping). */
  idsByPath(datasetId: number): Map<string, number> {
    const rows = prepareCached(this.db, 'SELECT id, path FROM images WHERE dataset_id = ?').all(datasetId) as { id: number; path: string }[];
    return new Map(rows.map((r) => [r.path, r.id]));
  }

  /** Inserts or updates an image by (dataset, path), keeping its id; returns the id. */
  upsert(datasetId: number, img: ImageUpsert): number {
    const r = prepareCached(
      this.db,
      `INSERT INTO images (dataset_id, path, category_id, width, height, format, bytes, sha256, external_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dataset_id, path) DO UPDATE SET category_id = excluded.category_id, width = excluded.width, height = excluded.height,
         format = excluded.format, bytes = excluded.bytes, sha256 = excluded.sha256, external_id = excluded.external_id
       RETURNING id`,
    ).get(datasetId, img.path, img.categoryId, img.width, img.height, img.format, img.bytes, img.sha256, img.externalId ?? null) as { id: number };
    return r.id;
  }

  delete(id: number): void {
    prepareCached(this.db, 'DELETE FROM images WHERE id = ?').run(id);
  }

  /** The absolute path an image row names (no file-system checks; see engine/images for safe access). */
  static absolutePath(root: string, relPath: string): string {
    return path.join(root, ...relPath.split('/'));
  }

  // ------------------------------------------------------------------------------------------
  // Annotations
  // ------------------------------------------------------------------------------------------

  /** Annotations (with keypoints) of one image. */
  annotations(imageId: number): Annotation[] {
    const rows = prepareCached(this.db, 'SELECT * FROM annotations WHERE image_id = ? ORDER BY category_id, instance').all(imageId) as AnnotationRow[];
    return rows.map((r) => toAnnotation(r, this.keypointsOf(r.id)));
  }

  /** Every annotation of a dataset with its keypoints, in (image path, category, instance) order: two queries, no N+1. */
  annotationsOfDataset(datasetId: number): Annotation[] {
    const rows = prepareCached(this.db, `SELECT a.* FROM annotations a JOIN images i ON i.id = a.image_id WHERE i.dataset_id = ? ORDER BY i.path, a.category_id, a.instance`).all(
      datasetId,
    ) as AnnotationRow[];
    const kps = prepareCached(
      this.db,
      `SELECT k.annotation_id, k.kp, k.x, k.y, k.visibility FROM keypoints k JOIN annotations a ON a.id = k.annotation_id JOIN images i ON i.id = a.image_id
       WHERE i.dataset_id = ? ORDER BY k.annotation_id, k.kp`,
    ).all(datasetId) as { annotation_id: number; kp: number; x: number; y: number; visibility: 1 | 2 }[];
    const byAnn = new Map<number, Keypoint[]>();
    for (const k of kps) {
      let list = byAnn.get(k.annotation_id);
      if (!list) byAnn.set(k.annotation_id, (list = []));
      list.push({ kp: k.kp, x: k.x, y: k.y, visibility: k.visibility });
    }
    return rows.map((r) => toAnnotation(r, byAnn.get(r.id) ?? []));
  }

  /** Ids of every annotation of a dataset (import bookkeeping). */
  /**
   * Every labelled keypoint of a category's first instances in a dataset, one row per keypoint,
   * ordered by image path then keypoint (with the image's bbox).
   */
  keypointRowsOfCategory(datasetId: number, categoryId: number): CategoryKeypointRow[] {
    return prepareCached(
      this.db,
      `SELECT i.id, i.path, a.bbox_x1, a.bbox_y1, a.bbox_x2, a.bbox_y2, k.kp, k.x, k.y, k.visibility
       FROM annotations a JOIN images i ON i.id = a.image_id JOIN keypoints k ON k.annotation_id = a.id
       WHERE i.dataset_id = ? AND a.category_id = ? AND a.instance = 0
       ORDER BY i.path, k.kp`,
    ).all(datasetId, categoryId) as CategoryKeypointRow[];
  }

  /** Ids of a category's annotations (every dataset image, every instance). */
  annotationIdsOfCategory(categoryId: number): number[] {
    return (prepareCached(this.db, 'SELECT id FROM annotations WHERE category_id = ?').all(categoryId) as { id: number }[]).map((r) => r.id);
  }

  annotationIds(datasetId: number): number[] {
    return (prepareCached(this.db, 'SELECT a.id FROM annotations a JOIN images i ON i.id = a.image_id WHERE i.dataset_id = ?').all(datasetId) as { id: number }[]).map((r) => r.id);
  }

  /** An annotation's keypoints in keypoint order. */
  keypointsOf(annotationId: number): Keypoint[] {
    return prepareCached(this.db, 'SELECT kp, x, y, visibility FROM keypoints WHERE annotation_id = ? ORDER BY kp').all(annotationId) as Keypoint[];
  }

  /** Inserts or updates an annotation by (image, category, instance), keeping its id; returns the id. */
  upsertAnnotation(a: AnnotationUpsert): number {
    const b = a.bbox;
    const r = prepareCached(
      this.db,
      `INSERT INTO annotations (image_id, category_id, instance, bbox_x1, bbox_y1, bbox_x2, bbox_y2, area, iscrowd, external_id, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (image_id, category_id, instance) DO UPDATE SET bbox_x1 = excluded.bbox_x1, bbox_y1 = excluded.bbox_y1,
         bbox_x2 = excluded.bbox_x2, bbox_y2 = excluded.bbox_y2, area = excluded.area, iscrowd = excluded.iscrowd,
         external_id = excluded.external_id, updated_at = excluded.updated_at
       RETURNING id`,
    ).get(a.imageId, a.categoryId, a.instance, b?.[0] ?? null, b?.[1] ?? null, b?.[2] ?? null, b?.[3] ?? null, a.area ?? null, a.iscrowd ?? 0, a.externalId ?? null, now()) as {
      id: number;
    };
    return r.id;
  }

  /** Replaces the keypoints of an annotation. */
  replaceKeypoints(annotationId: number, keypoints: readonly Keypoint[]): void {
    prepareCached(this.db, 'DELETE FROM keypoints WHERE annotation_id = ?').run(annotationId);
    const ins = prepareCached(this.db, 'INSERT INTO keypoints (annotation_id, kp, x, y, visibility) VALUES (?, ?, ?, ?, ?)');
    for (const k of keypoints) ins.run(annotationId, k.kp, k.x, k.y, k.visibility);
  }

  /** Saves one annotation with its keypoints (the annotation UI's autosave); returns its id. */
  saveAnnotation(a: AnnotationUpsert & { keypoints: readonly Keypoint[] }): number {
    const id = this.upsertAnnotation(a);
    this.replaceKeypoints(id, a.keypoints);
    return id;
  }

  /** The annotation of one instance (with keypoints), if there is a row. */
  instance(imageId: number, categoryId: number, instance: number): Annotation | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM annotations WHERE image_id = ? AND category_id = ? AND instance = ?').get(imageId, categoryId, instance) as AnnotationRow | undefined;
    return r && toAnnotation(r, this.keypointsOf(r.id));
  }

  /**
   * Sets one instance's keypoints, keeping its box and COCO fields: creates the annotation when
   * needed; with no keypoints left, removes an annotation that has no box either (an empty
   * instance means "not annotated").
   */
  setInstanceKeypoints(imageId: number, categoryId: number, instance: number, keypoints: readonly Keypoint[]): void {
    const row = prepareCached(this.db, 'SELECT id, bbox_x1 FROM annotations WHERE image_id = ? AND category_id = ? AND instance = ?').get(imageId, categoryId, instance) as
      { id: number; bbox_x1: number | null } | undefined;
    if (keypoints.length === 0) {
      if (!row) return;
      if (row.bbox_x1 === null) this.deleteAnnotation(row.id);
      else {
        this.replaceKeypoints(row.id, []);
        prepareCached(this.db, 'UPDATE annotations SET updated_at = ? WHERE id = ?').run(now(), row.id);
      }
      return;
    }
    if (row) {
      this.replaceKeypoints(row.id, keypoints);
      prepareCached(this.db, 'UPDATE annotations SET updated_at = ? WHERE id = ?').run(now(), row.id);
      return;
    }
    this.saveAnnotation({ imageId, categoryId, instance, bbox: null, keypoints });
  }

  deleteAnnotation(id: number): void {
    prepareCached(this.db, 'DELETE FROM annotations WHERE id = ?').run(id);
  }
}

/**
 * The dataset aggregate's root: datasets and their categories (keypoint schema: names, colours,
 * skeleton). Images, annotations and pairs have their own repositories.
 */
import { AppError } from '../../shared/errors.js';
import { type Db, now, prepareCached } from '../db.js';
import { imageOfCategorySql } from './images.js';
import { flipPairsProblem, normaliseFlipPairs } from '../../engine/datasets/flip-pairs.js';
import type { DatasetFormat, KeypointDef, Split } from '../../engine/datasets/domain.js';

export { DATASET_FORMATS, type DatasetFormat, type KeypointDef, SPLITS, type Split } from '../../engine/datasets/domain.js';

export interface Dataset {
  id: number;
  name: string;
  format: DatasetFormat;
  root: string;
  /** COCO: the annotation file; '' for the other formats. */
  source: string;
  createdAt: number;
  updatedAt: number;
}

export interface DatasetSummary extends Dataset {
  images: number;
  categories: number;
  pairs: number;
  annotations: number;
}

export interface Category {
  id: number;
  datasetId: number;
  name: string;
  ordinal: number;
  externalId: number | null;
  supercategory: string | null;
  keypoints: KeypointDef[];
  /** Pairs of 0-based keypoint indices. */
  skeleton: [number, number][];
  /** Symmetric pairs (0-based): their names swap when the image is mirrored. */
  flipPairs: [number, number][];
}

export interface CategoryStats {
  id: number;
  name: string;
  keypoints: number;
  images: number;
  annotations: number;
  pairs: Record<Split, number>;
}

export interface DatasetDetails extends DatasetSummary {
  keypoints: number;
  pairsBySplit: Record<Split, number>;
  pairPoints: number;
  categoryStats: CategoryStats[];
  lastImport: unknown;
}

interface DatasetRow {
  id: number;
  name: string;
  format: DatasetFormat;
  root: string;
  source: string;
  created_at: number;
  updated_at: number;
}

interface CategoryRow {
  id: number;
  dataset_id: number;
  name: string;
  ordinal: number;
  external_id: number | null;
  supercategory: string | null;
  keypoints: string;
  skeleton: string;
  flip_pairs: string;
}

function toDataset(r: DatasetRow): Dataset {
  return { id: r.id, name: r.name, format: r.format, root: r.root, source: r.source, createdAt: r.created_at, updatedAt: r.updated_at };
}

function toCategory(r: CategoryRow): Category {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    name: r.name,
    ordinal: r.ordinal,
    externalId: r.external_id,
    supercategory: r.supercategory,
    keypoints: JSON.parse(r.keypoints) as KeypointDef[],
    skeleton: JSON.parse(r.skeleton) as [number, number][],
    flipPairs: JSON.parse(r.flip_pairs) as [number, number][],
  };
}

const SUMMARY_SQL = `
  SELECT d.*,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id) AS n_images,
    (SELECT count(*) FROM categories c WHERE c.dataset_id = d.id) AS n_categories,
    (SELECT count(*) FROM pairs p WHERE p.dataset_id = d.id) AS n_pairs,
    (SELECT count(*) FROM annotations a JOIN images i ON i.id = a.image_id WHERE i.dataset_id = d.id) AS n_annotations
  FROM datasets d`;

type SummaryRow = DatasetRow & { n_images: number; n_categories: number; n_pairs: number; n_annotations: number };

function toSummary(r: SummaryRow): DatasetSummary {
  return { ...toDataset(r), images: r.n_images, categories: r.n_categories, pairs: r.n_pairs, annotations: r.n_annotations };
}

export class DatasetsRepo {
  constructor(private readonly db: Db) {}

  list(): DatasetSummary[] {
    return (prepareCached(this.db, `${SUMMARY_SQL} ORDER BY d.id`).all() as SummaryRow[]).map(toSummary);
  }

  find(id: number): Dataset | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
    return r && toDataset(r);
  }

  findByName(name: string): Dataset | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM datasets WHERE name = ?').get(name) as DatasetRow | undefined;
    return r && toDataset(r);
  }

  findByKey(format: DatasetFormat, root: string, source: string): Dataset | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM datasets WHERE format = ? AND root = ? AND source = ?').get(format, root, source) as DatasetRow | undefined;
    return r && toDataset(r);
  }

  /** A dataset by id (all digits) or by name; NOT_FOUND names what was asked for. */
  resolve(ref: string | number): Dataset {
    const byId = typeof ref === 'number' || /^\d+$/.test(ref) ? this.find(Number(ref)) : undefined;
    const d = byId ?? (typeof ref === 'string' ? this.findByName(ref) : undefined);
    if (!d) throw new AppError('NOT_FOUND', `no dataset '${ref}' (see \`sd4match datasets list\`)`);
    return d;
  }

  create(d: { name: string; format: DatasetFormat; root: string; source?: string }): Dataset {
    const t = now();
    const r = prepareCached(this.db, 'INSERT INTO datasets (name, format, root, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *').get(
      d.name,
      d.format,
      d.root,
      d.source ?? '',
      t,
      t,
    ) as DatasetRow;
    return toDataset(r);
  }

  rename(id: number, name: string): void {
    prepareCached(this.db, 'UPDATE datasets SET name = ?, updated_at = ? WHERE id = ?').run(name, now(), id);
  }

  recordImport(id: number, report: unknown): void {
    prepareCached(this.db, 'UPDATE datasets SET last_import = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(report), now(), id);
  }

  /** Deletes the dataset and everything in it (images, annotations, pairs); returns what went. */
  delete(id: number): { images: number; pairs: number; categories: number; annotations: number } {
    const s = this.summary(id);
    prepareCached(this.db, 'DELETE FROM datasets WHERE id = ?').run(id);
    return { images: s.images, pairs: s.pairs, categories: s.categories, annotations: s.annotations };
  }

  summary(id: number): DatasetSummary {
    const r = prepareCached(this.db, `${SUMMARY_SQL} WHERE d.id = ?`).get(id) as SummaryRow | undefined;
    if (!r) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
    return toSummary(r);
  }

  details(id: number): DatasetDetails {
    const summary = this.summary(id);
    const splits = prepareCached(this.db, 'SELECT split, count(*) AS n, sum(n_pts) AS pts FROM pairs WHERE dataset_id = ? GROUP BY split').all(id) as {
      split: Split;
      n: number;
      pts: number;
    }[];
    const pairsBySplit: Record<Split, number> = { trn: 0, val: 0, test: 0 };
    let pairPoints = 0;
    for (const s of splits) {
      pairsBySplit[s.split] = s.n;
      pairPoints += s.pts ?? 0;
    }
    const keypoints = (
      prepareCached(this.db, 'SELECT count(*) AS n FROM keypoints k JOIN annotations a ON a.id = k.annotation_id JOIN images i ON i.id = a.image_id WHERE i.dataset_id = ?').get(id) as {
        n: number;
      }
    ).n;
    const cats = this.categories(id);
    const imageCounts = this.imageCounts(id);
    const annCounts = new Map(
      (
        prepareCached(this.db, 'SELECT a.category_id AS c, count(*) AS n FROM annotations a JOIN images i ON i.id = a.image_id WHERE i.dataset_id = ? GROUP BY a.category_id').all(id) as {
          c: number;
          n: number;
        }[]
      ).map((r) => [r.c, r.n]),
    );
    const pairCounts = prepareCached(this.db, 'SELECT category_id AS c, split, count(*) AS n FROM pairs WHERE dataset_id = ? GROUP BY category_id, split').all(id) as {
      c: number;
      split: Split;
      n: number;
    }[];
    const categoryStats: CategoryStats[] = cats.map((c) => {
      const pairs: Record<Split, number> = { trn: 0, val: 0, test: 0 };
      for (const p of pairCounts) if (p.c === c.id) pairs[p.split] = p.n;
      return { id: c.id, name: c.name, keypoints: c.keypoints.length, images: imageCounts.get(c.id) ?? 0, annotations: annCounts.get(c.id) ?? 0, pairs };
    });
    const last = (prepareCached(this.db, 'SELECT last_import FROM datasets WHERE id = ?').get(id) as { last_import: string | null }).last_import;
    return { ...summary, keypoints, pairsBySplit, pairPoints, categoryStats, lastImport: last ? (JSON.parse(last) as unknown) : null };
  }

  // ------------------------------------------------------------------------------------------
  // Categories
  // ------------------------------------------------------------------------------------------

  categories(datasetId: number): Category[] {
    return (prepareCached(this.db, 'SELECT * FROM categories WHERE dataset_id = ? ORDER BY ordinal, name').all(datasetId) as CategoryRow[]).map(toCategory);
  }

  category(id: number): Category | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM categories WHERE id = ?').get(id) as CategoryRow | undefined;
    return r && toCategory(r);
  }

  findCategory(datasetId: number, name: string): Category | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM categories WHERE dataset_id = ? AND name = ?').get(datasetId, name) as CategoryRow | undefined;
    return r && toCategory(r);
  }

  /**
   * Inserts or updates a category by (dataset, name); returns its id. With `keepSchema` an
   * existing category keeps its keypoint names, colours and skeleton (a user-edited schema).
   */
  upsertCategory(
    datasetId: number,
    c: { name: string; ordinal: number; externalId?: number | null; supercategory?: string | null; keypoints: KeypointDef[]; skeleton: [number, number][]; flipPairs?: [number, number][] },
    keepSchema = false,
  ): number {
    const sql = keepSchema
      ? `INSERT INTO categories (dataset_id, name, ordinal, external_id, supercategory, keypoints, skeleton, flip_pairs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dataset_id, name) DO UPDATE SET ordinal = excluded.ordinal RETURNING id`
      : `INSERT INTO categories (dataset_id, name, ordinal, external_id, supercategory, keypoints, skeleton, flip_pairs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dataset_id, name) DO UPDATE SET ordinal = excluded.ordinal, external_id = excluded.external_id,
           supercategory = excluded.supercategory, keypoints = excluded.keypoints, skeleton = excluded.skeleton, flip_pairs = excluded.flip_pairs RETURNING id`;
    const flip = checkFlipPairs(c.flipPairs ?? [], c.keypoints.length);
    const r = prepareCached(this.db, sql).get(
      datasetId,
      c.name,
      c.ordinal,
      c.externalId ?? null,
      c.supercategory ?? null,
      JSON.stringify(c.keypoints),
      JSON.stringify(c.skeleton),
      JSON.stringify(flip),
    ) as {
      id: number;
    };
    return r.id;
  }

  /** Replaces a category's keypoint schema (annotation UI), checking the skeleton's and the symmetric pairs' indices. */
  setKeypointSchema(categoryId: number, keypoints: KeypointDef[], skeleton: [number, number][], flipPairs: [number, number][] = []): void {
    for (const [a, b] of skeleton) {
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= keypoints.length || b >= keypoints.length) {
        throw new AppError('INVALID_ARGUMENT', `skeleton edge [${a}, ${b}] does not join two of the ${keypoints.length} keypoints`);
      }
    }
    const flip = checkFlipPairs(flipPairs, keypoints.length);
    prepareCached(this.db, 'UPDATE categories SET keypoints = ?, skeleton = ?, flip_pairs = ? WHERE id = ?').run(JSON.stringify(keypoints), JSON.stringify(skeleton), JSON.stringify(flip), categoryId);
  }

  /** Per category of a dataset: its images (the membership rule of ImagesRepo, imageOfCategorySql). */
  imageCounts(datasetId: number): Map<number, number> {
    const rows = prepareCached(this.db, `SELECT c.id AS c, count(*) AS n FROM categories c JOIN images i ON ${imageOfCategorySql('i', 'c')} WHERE c.dataset_id = ? GROUP BY c.id`).all(datasetId) as {
      c: number;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.c, r.n]));
  }

  /**
   * Per category of a dataset: images with at least one labelled keypoint of that category (an
   * image annotated in a category belongs to it, so these are among its images).
   */
  annotatedImageCounts(datasetId: number): Map<number, number> {
    const rows = prepareCached(
      this.db,
      `SELECT a.category_id AS c, count(DISTINCT a.image_id) AS n FROM annotations a JOIN images i ON i.id = a.image_id
       WHERE i.dataset_id = ? AND EXISTS (SELECT 1 FROM keypoints k WHERE k.annotation_id = a.id) GROUP BY a.category_id`,
    ).all(datasetId) as { c: number; n: number }[];
    return new Map(rows.map((r) => [r.c, r.n]));
  }

  deleteCategory(id: number): void {
    prepareCached(this.db, 'DELETE FROM categories WHERE id = ?').run(id);
  }
}

/** Symmetric pairs checked against the schema's size, in canonical order. */
function checkFlipPairs(pairs: readonly (readonly [number, number])[], n: number): [number, number][] {
  const problem = flipPairsProblem(pairs, n);
  if (problem) throw new AppError('INVALID_ARGUMENT', problem);
  return normaliseFlipPairs(pairs, n);
}

/**
 * Benchmark pairs with their correspondences. `list()` is the query training and evaluation run:
 * every pair of a dataset split (optionally one category) with both images' paths and sizes,
 * keypoints, boxes and flags, in one SQL statement.
 */
import path from 'node:path';
import { type Db, prepareCached } from '../db.js';
import type { PairSummary } from '../../contract/pairs.js';
import type { Box, DatasetFormat, PairFlags, PairRecord, Split } from '../../engine/datasets/domain.js';

export type { PairFlags, PairImage, PairRecord } from '../../engine/datasets/domain.js';

export interface PairUpsert {
  split: Split;
  name: string;
  ordinal: number;
  categoryId: number;
  srcImageId: number;
  trgImageId: number;
  srcBbox: Box | null;
  trgBbox: Box | null;
  /** n x 4: src x, src y, trg x, trg y per correspondence. */
  points: Float64Array;
  kpIds: number[] | null;
  flip: 0 | 1;
  flags: PairFlags;
}

export interface PairQuery {
  datasetId: number;
  split: Split;
  categoryId?: number;
  limit?: number;
  offset?: number;
}

/** Packs n x 4 float64 little-endian. */
export function encodePoints(points: Float64Array): Buffer {
  const buf = Buffer.allocUnsafe(points.length * 8);
  for (let i = 0; i < points.length; i++) buf.writeDoubleLE(points[i]!, i * 8);
  return buf;
}

/** Splits a points blob into source and target keypoints. */
export function decodePoints(blob: Buffer, nPts: number): { src: Float64Array; trg: Float64Array } {
  const src = new Float64Array(2 * nPts);
  const trg = new Float64Array(2 * nPts);
  for (let i = 0; i < nPts; i++) {
    const o = i * 32;
    src[2 * i] = blob.readDoubleLE(o);
    src[2 * i + 1] = blob.readDoubleLE(o + 8);
    trg[2 * i] = blob.readDoubleLE(o + 16);
    trg[2 * i + 1] = blob.readDoubleLE(o + 24);
  }
  return { src, trg };
}

interface PairRow {
  id: number;
  dataset_id: number;
  format: DatasetFormat;
  root: string;
  split: Split;
  name: string;
  ordinal: number;
  category_id: number;
  category: string;
  n_pts: number;
  points: Buffer;
  kp_ids: string | null;
  flip: 0 | 1;
  mirror: number | null;
  viewpoint_variation: number | null;
  scale_variation: number | null;
  truncation: number | null;
  occlusion: number | null;
  src_image_id: number;
  src_path: string;
  src_w: number;
  src_h: number;
  src_sha: string;
  src_x1: number | null;
  src_y1: number | null;
  src_x2: number | null;
  src_y2: number | null;
  trg_image_id: number;
  trg_path: string;
  trg_w: number;
  trg_h: number;
  trg_sha: string;
  trg_x1: number | null;
  trg_y1: number | null;
  trg_x2: number | null;
  trg_y2: number | null;
}

const LIST_SQL = `
  SELECT p.id, p.dataset_id, d.format, d.root, p.split, p.name, p.ordinal, p.category_id, c.name AS category, p.n_pts, p.points, p.kp_ids,
    p.flip, p.mirror, p.viewpoint_variation, p.scale_variation, p.truncation, p.occlusion,
    p.src_image_id, s.path AS src_path, s.width AS src_w, s.height AS src_h, s.sha256 AS src_sha, p.src_x1, p.src_y1, p.src_x2, p.src_y2,
    p.trg_image_id, t.path AS trg_path, t.width AS trg_w, t.height AS trg_h, t.sha256 AS trg_sha, p.trg_x1, p.trg_y1, p.trg_x2, p.trg_y2
  FROM pairs p
    JOIN datasets d ON d.id = p.dataset_id
    JOIN categories c ON c.id = p.category_id
    JOIN images s ON s.id = p.src_image_id
    JOIN images t ON t.id = p.trg_image_id`;

function box(x1: number | null, y1: number | null, x2: number | null, y2: number | null): Box | null {
  return x1 === null ? null : [x1, y1!, x2!, y2!];
}

function joinRoot(root: string, rel: string): string {
  return path.join(root, ...rel.split('/'));
}

function toPair(r: PairRow): PairRecord {
  const { src, trg } = decodePoints(r.points, r.n_pts);
  return {
    id: r.id,
    datasetId: r.dataset_id,
    format: r.format,
    split: r.split,
    name: r.name,
    ordinal: r.ordinal,
    categoryId: r.category_id,
    category: r.category,
    nPts: r.n_pts,
    src: { imageId: r.src_image_id, path: joinRoot(r.root, r.src_path), width: r.src_w, height: r.src_h, sha256: r.src_sha, bbox: box(r.src_x1, r.src_y1, r.src_x2, r.src_y2), kps: src },
    trg: { imageId: r.trg_image_id, path: joinRoot(r.root, r.trg_path), width: r.trg_w, height: r.trg_h, sha256: r.trg_sha, bbox: box(r.trg_x1, r.trg_y1, r.trg_x2, r.trg_y2), kps: trg },
    kpIds: r.kp_ids === null ? null : (JSON.parse(r.kp_ids) as number[]),
    flip: r.flip,
    flags: {
      viewpointVariation: r.viewpoint_variation,
      scaleVariation: r.scale_variation,
      truncation: r.truncation,
      occlusion: r.occlusion,
      mirror: r.mirror,
    },
  };
}

/** Filters of the pairs list (Pairs view). */
export interface PairFilter {
  datasetId: number;
  split?: Split;
  categoryId?: number;
  /** Case-insensitive substring of the pair name or either image path. */
  search?: string;
  /** At least this many correspondences. */
  minPoints?: number;
  offset?: number;
  limit?: number;
}

function filterWhere(f: PairFilter): { where: string; params: unknown[] } {
  const parts = ['p.dataset_id = ?'];
  const params: unknown[] = [f.datasetId];
  if (f.split !== undefined) {
    parts.push('p.split = ?');
    params.push(f.split);
  }
  if (f.categoryId !== undefined) {
    parts.push('p.category_id = ?');
    params.push(f.categoryId);
  }
  if (f.minPoints !== undefined && f.minPoints > 0) {
    parts.push('p.n_pts >= ?');
    params.push(f.minPoints);
  }
  if (f.search) {
    const like = `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push("(p.name LIKE ? ESCAPE '\\' OR s.path LIKE ? ESCAPE '\\' OR t.path LIKE ? ESCAPE '\\')");
    params.push(like, like, like);
  }
  return { where: parts.join(' AND '), params };
}

const SPLIT_ORDER = "CASE p.split WHEN 'trn' THEN 0 WHEN 'val' THEN 1 ELSE 2 END";

export class PairsRepo {
  constructor(private readonly db: Db) {}

  /** Pairs of one split (optionally one category) in list order, with everything training and PCK need. */
  list(q: PairQuery): PairRecord[] {
    const limit = q.limit ?? -1;
    const offset = q.offset ?? 0;
    const rows =
      q.categoryId === undefined
        ? prepareCached(this.db, `${LIST_SQL} WHERE p.dataset_id = ? AND p.split = ? ORDER BY p.ordinal LIMIT ? OFFSET ?`).all(q.datasetId, q.split, limit, offset)
        : prepareCached(this.db, `${LIST_SQL} WHERE p.dataset_id = ? AND p.split = ? AND p.category_id = ? ORDER BY p.ordinal LIMIT ? OFFSET ?`).all(q.datasetId, q.split, q.categoryId, limit, offset);
    return (rows as PairRow[]).map(toPair);
  }

  get(id: number): PairRecord | undefined {
    const r = prepareCached(this.db, `${LIST_SQL} WHERE p.id = ?`).get(id) as PairRow | undefined;
    return r && toPair(r);
  }

  count(datasetId: number, split?: Split): number {
    const r =
      split === undefined
        ? prepareCached(this.db, 'SELECT count(*) AS n FROM pairs WHERE dataset_id = ?').get(datasetId)
        : prepareCached(this.db, 'SELECT count(*) AS n FROM pairs WHERE dataset_id = ? AND split = ?').get(datasetId, split);
    return (r as { n: number }).n;
  }

  /** Ids of a dataset's pairs (import bookkeeping). */
  ids(datasetId: number): number[] {
    return (prepareCached(this.db, 'SELECT id FROM pairs WHERE dataset_id = ?').all(datasetId) as { id: number }[]).map((r) => r.id);
  }

  /** Inserts or updates a pair by (dataset, split, name), keeping its id; returns the id. */
  upsert(datasetId: number, p: PairUpsert): number {
    const s = p.srcBbox;
    const t = p.trgBbox;
    const r = prepareCached(
      this.db,
      `INSERT INTO pairs (dataset_id, split, name, ordinal, category_id, src_image_id, trg_image_id,
         src_x1, src_y1, src_x2, src_y2, trg_x1, trg_y1, trg_x2, trg_y2, n_pts, points, kp_ids, flip,
         mirror, viewpoint_variation, scale_variation, truncation, occlusion)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dataset_id, split, name) DO UPDATE SET ordinal = excluded.ordinal, category_id = excluded.category_id,
         src_image_id = excluded.src_image_id, trg_image_id = excluded.trg_image_id,
         src_x1 = excluded.src_x1, src_y1 = excluded.src_y1, src_x2 = excluded.src_x2, src_y2 = excluded.src_y2,
         trg_x1 = excluded.trg_x1, trg_y1 = excluded.trg_y1, trg_x2 = excluded.trg_x2, trg_y2 = excluded.trg_y2,
         n_pts = excluded.n_pts, points = excluded.points, kp_ids = excluded.kp_ids, flip = excluded.flip, mirror = excluded.mirror,
         viewpoint_variation = excluded.viewpoint_variation, scale_variation = excluded.scale_variation,
         truncation = excluded.truncation, occlusion = excluded.occlusion
       RETURNING id`,
    ).get(
      datasetId,
      p.split,
      p.name,
      p.ordinal,
      p.categoryId,
      p.srcImageId,
      p.trgImageId,
      s?.[0] ?? null,
      s?.[1] ?? null,
      s?.[2] ?? null,
      s?.[3] ?? null,
      t?.[0] ?? null,
      t?.[1] ?? null,
      t?.[2] ?? null,
      t?.[3] ?? null,
      p.points.length / 4,
      encodePoints(p.points),
      p.kpIds === null ? null : JSON.stringify(p.kpIds),
      p.flip,
      p.flags.mirror,
      p.flags.viewpointVariation,
      p.flags.scaleVariation,
      p.flags.truncation,
      p.flags.occlusion,
    ) as { id: number };
    return r.id;
  }

  delete(id: number): void {
    prepareCached(this.db, 'DELETE FROM pairs WHERE id = ?').run(id);
  }

  /** Deletes those of `ids` that belong to the dataset; returns how many were deleted. */
  deleteInDataset(datasetId: number, ids: readonly number[]): number {
    const stmt = prepareCached(this.db, 'DELETE FROM pairs WHERE id = ? AND dataset_id = ?');
    let n = 0;
    for (const id of ids) n += stmt.run(id, datasetId).changes;
    return n;
  }

  /** A pair's place in its split's list. */
  ordinalOf(id: number): number | undefined {
    return (prepareCached(this.db, 'SELECT ordinal FROM pairs WHERE id = ?').get(id) as { ordinal: number } | undefined)?.ordinal;
  }

  /** A pair's dataset, split and name (what moving it between splits needs), without its points. */
  placement(id: number): { datasetId: number; split: Split; name: string } | undefined {
    const r = prepareCached(this.db, 'SELECT dataset_id, split, name FROM pairs WHERE id = ?').get(id) as { dataset_id: number; split: Split; name: string } | undefined;
    return r && { datasetId: r.dataset_id, split: r.split, name: r.name };
  }

  /** Pair counts of a dataset per category and split. */
  countsByCategory(datasetId: number): { categoryId: number; split: Split; n: number }[] {
    return prepareCached(this.db, 'SELECT category_id AS categoryId, split, count(*) AS n FROM pairs WHERE dataset_id = ? GROUP BY category_id, split').all(datasetId) as {
      categoryId: number;
      split: Split;
      n: number;
    }[];
  }

  /** A page of pairs matching `f` (split order trn, val, test, then list order) and the total. */
  summaries(f: PairFilter): { total: number; items: PairSummary[] } {
    const { where, params } = filterWhere(f);
    const from = 'FROM pairs p JOIN categories c ON c.id = p.category_id JOIN images s ON s.id = p.src_image_id JOIN images t ON t.id = p.trg_image_id';
    const total = (prepareCached(this.db, `SELECT count(*) AS n ${from} WHERE ${where}`).get(...params) as { n: number }).n;
    const rows = prepareCached(
      this.db,
      `SELECT p.id, p.name, p.split, p.ordinal, p.category_id, c.name AS category, p.src_image_id, p.trg_image_id, s.path AS src_path, t.path AS trg_path,
         p.n_pts, p.mirror, p.viewpoint_variation, p.scale_variation, p.truncation, p.occlusion
       ${from} WHERE ${where} ORDER BY ${SPLIT_ORDER}, p.ordinal LIMIT ? OFFSET ?`,
    ).all(...params, f.limit ?? -1, f.offset ?? 0) as {
      id: number;
      name: string;
      split: Split;
      ordinal: number;
      category_id: number;
      category: string;
      src_image_id: number;
      trg_image_id: number;
      src_path: string;
      trg_path: string;
      n_pts: number;
      mirror: number | null;
      viewpoint_variation: number | null;
      scale_variation: number | null;
      truncation: number | null;
      occlusion: number | null;
    }[];
    return {
      total,
      items: rows.map((r) => ({
        id: r.id,
        name: r.name,
        split: r.split,
        ordinal: r.ordinal,
        categoryId: r.category_id,
        category: r.category,
        srcImageId: r.src_image_id,
        trgImageId: r.trg_image_id,
        srcPath: r.src_path,
        trgPath: r.trg_path,
        nPts: r.n_pts,
        flags: { viewpointVariation: r.viewpoint_variation, scaleVariation: r.scale_variation, truncation: r.truncation, occlusion: r.occlusion, mirror: r.mirror },
      })),
    };
  }

  /** The pair of a split with this name. */
  findByName(datasetId: number, split: Split, name: string): { id: number } | undefined {
    return prepareCached(this.db, 'SELECT id FROM pairs WHERE dataset_id = ? AND split = ? AND name = ?').get(datasetId, split, name) as { id: number } | undefined;
  }

  /** The largest list position in a split (-1 when empty). */
  maxOrdinal(datasetId: number, split: Split): number {
    return (prepareCached(this.db, 'SELECT coalesce(max(ordinal), -1) AS m FROM pairs WHERE dataset_id = ? AND split = ?').get(datasetId, split) as { m: number }).m;
  }

  /** Moves a pair to another split at position `ordinal`. */
  setSplit(id: number, split: Split, ordinal: number): void {
    prepareCached(this.db, 'UPDATE pairs SET split = ?, ordinal = ? WHERE id = ?').run(split, ordinal, id);
  }

  /** Replaces a pair's correspondences (schema changes drop or renumber keypoints). */
  setPoints(id: number, points: Float64Array, kpIds: number[] | null): void {
    prepareCached(this.db, 'UPDATE pairs SET n_pts = ?, points = ?, kp_ids = ? WHERE id = ?').run(points.length / 4, encodePoints(points), kpIds === null ? null : JSON.stringify(kpIds), id);
  }

  /** Raw correspondences of the pairs of one category (schema remapping). */
  pointsOfCategory(categoryId: number): { id: number; nPts: number; points: Buffer; kpIds: number[] | null }[] {
    const rows = prepareCached(this.db, 'SELECT id, n_pts, points, kp_ids FROM pairs WHERE category_id = ?').all(categoryId) as { id: number; n_pts: number; points: Buffer; kp_ids: string | null }[];
    return rows.map((r) => ({ id: r.id, nPts: r.n_pts, points: r.points, kpIds: r.kp_ids === null ? null : (JSON.parse(r.kp_ids) as number[]) }));
  }
}

/**
 * The annotation UI's undo/redo history (schema 0003): per (image, category, instance) a list of
 * whole keypoint states and a cursor at the state the keypoints table holds. The rules (when to
 * append, truncate, move the cursor) live in engine/annotations/editor.ts; this is storage only.
 */
import { type Db, now, prepareCached } from '../db.js';
import type { Keypoint } from './images.js';

export interface InstanceKey {
  imageId: number;
  categoryId: number;
  instance: number;
}

export interface HistoryCursor {
  seq: number;
  version: number;
}

export interface HistoryEntry {
  seq: number;
  keypoints: Keypoint[];
  action: string;
  createdAt: number;
}

interface EntryRow {
  seq: number;
  keypoints: string;
  action: string;
  created_at: number;
}

function toEntry(r: EntryRow): HistoryEntry {
  return { seq: r.seq, keypoints: JSON.parse(r.keypoints) as Keypoint[], action: r.action, createdAt: r.created_at };
}

export class AnnotationHistoryRepo {
  constructor(private readonly db: Db) {}

  cursor(k: InstanceKey): HistoryCursor | undefined {
    return prepareCached(this.db, 'SELECT seq, version FROM annotation_cursor WHERE image_id = ? AND category_id = ? AND instance = ?').get(k.imageId, k.categoryId, k.instance) as
      HistoryCursor | undefined;
  }

  setCursor(k: InstanceKey, c: HistoryCursor): void {
    prepareCached(
      this.db,
      `INSERT INTO annotation_cursor (image_id, category_id, instance, seq, version) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (image_id, category_id, instance) DO UPDATE SET seq = excluded.seq, version = excluded.version`,
    ).run(k.imageId, k.categoryId, k.instance, c.seq, c.version);
  }

  entry(k: InstanceKey, seq: number): HistoryEntry | undefined {
    const r = prepareCached(this.db, 'SELECT seq, keypoints, action, created_at FROM annotation_history WHERE image_id = ? AND category_id = ? AND instance = ? AND seq = ?').get(
      k.imageId,
      k.categoryId,
      k.instance,
      seq,
    ) as EntryRow | undefined;
    return r && toEntry(r);
  }

  /** The nearest entry before (`dir` -1) or after (+1) `seq`. */
  neighbour(k: InstanceKey, seq: number, dir: -1 | 1): HistoryEntry | undefined {
    const sql =
      dir < 0
        ? 'SELECT seq, keypoints, action, created_at FROM annotation_history WHERE image_id = ? AND category_id = ? AND instance = ? AND seq < ? ORDER BY seq DESC LIMIT 1'
        : 'SELECT seq, keypoints, action, created_at FROM annotation_history WHERE image_id = ? AND category_id = ? AND instance = ? AND seq > ? ORDER BY seq ASC LIMIT 1';
    const r = prepareCached(this.db, sql).get(k.imageId, k.categoryId, k.instance, seq) as EntryRow | undefined;
    return r && toEntry(r);
  }

  append(k: InstanceKey, seq: number, keypoints: readonly Keypoint[], action: string): void {
    prepareCached(this.db, 'INSERT INTO annotation_history (image_id, category_id, instance, seq, keypoints, action, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      k.imageId,
      k.categoryId,
      k.instance,
      seq,
      JSON.stringify(keypoints),
      action,
      now(),
    );
  }

  /** Drops the redo branch: every entry after `seq`. */
  truncateAfter(k: InstanceKey, seq: number): void {
    prepareCached(this.db, 'DELETE FROM annotation_history WHERE image_id = ? AND category_id = ? AND instance = ? AND seq > ?').run(k.imageId, k.categoryId, k.instance, seq);
  }

  /** Keeps the newest `keep` entries up to `seq`. */
  prune(k: InstanceKey, seq: number, keep: number): void {
    prepareCached(this.db, 'DELETE FROM annotation_history WHERE image_id = ? AND category_id = ? AND instance = ? AND seq <= ?').run(k.imageId, k.categoryId, k.instance, seq - keep);
  }

  /** Every stored state of a category (schema changes remap them). */
  entriesOfCategory(categoryId: number): (InstanceKey & { seq: number; keypoints: Keypoint[] })[] {
    const rows = prepareCached(this.db, 'SELECT image_id, category_id, instance, seq, keypoints FROM annotation_history WHERE category_id = ?').all(categoryId) as {
      image_id: number;
      category_id: number;
      instance: number;
      seq: number;
      keypoints: string;
    }[];
    return rows.map((r) => ({ imageId: r.image_id, categoryId: r.category_id, instance: r.instance, seq: r.seq, keypoints: JSON.parse(r.keypoints) as Keypoint[] }));
  }

  replaceEntry(k: InstanceKey, seq: number, keypoints: readonly Keypoint[]): void {
    prepareCached(this.db, 'UPDATE annotation_history SET keypoints = ? WHERE image_id = ? AND category_id = ? AND instance = ? AND seq = ?').run(
      JSON.stringify(keypoints),
      k.imageId,
      k.categoryId,
      k.instance,
      seq,
    );
  }
}

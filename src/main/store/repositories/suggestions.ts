/**
 * Pending keypoint suggestions (one set per image and category, replaced by the next run) and the
 * per-image feature descriptors that rank which image to label next. Suggestions are kept apart
 * from annotations: nothing here writes a keypoint.
 */
import { type Db, now, prepareCached } from '../db.js';
import type { StoredSuggestion } from '../../contract/suggest.js';

export interface SuggestionSetInput {
  imageId: number;
  categoryId: number;
  /** The stored prompt used (null: a prompt given as it is). */
  promptId: number | null;
  /** The prompt's display name. */
  prompt: string;
  /** The feature settings the set was computed with. */
  settings: Record<string, unknown>;
  /** Image ids of the exemplars matched from. */
  exemplars: number[];
  /** Wall time of the image's suggestion. */
  seconds: number;
  keypoints: StoredSuggestion[];
}

export interface SuggestionSetRecord extends SuggestionSetInput {
  id: number;
  createdAt: number;
}

interface SetRow {
  id: number;
  image_id: number;
  category_id: number;
  prompt_id: number | null;
  prompt: string;
  settings: string;
  exemplars: string;
  seconds: number;
  created_at: number;
}

interface SuggestionRow {
  set_id: number;
  kp: number;
  x: number;
  y: number;
  confidence: number;
  visible: 0 | 1;
  candidates: number;
  agreement: number;
}

function toSuggestion(r: SuggestionRow): StoredSuggestion {
  return { kp: r.kp, x: r.x, y: r.y, confidence: r.confidence, visible: r.visible === 1, candidates: r.candidates, agreement: r.agreement };
}

function toSet(r: SetRow, keypoints: StoredSuggestion[]): SuggestionSetRecord {
  return {
    id: r.id,
    imageId: r.image_id,
    categoryId: r.category_id,
    promptId: r.prompt_id,
    prompt: r.prompt,
    settings: JSON.parse(r.settings) as Record<string, unknown>,
    exemplars: JSON.parse(r.exemplars) as number[],
    seconds: r.seconds,
    createdAt: r.created_at,
    keypoints,
  };
}

const inUnit = (v: number) => Number.isFinite(v) && v >= 0 && v <= 1;

/** Refuses a set the schema's checks would reject, naming the image, the keypoint and the field. */
function checkSet(set: SuggestionSetInput): void {
  const at = `suggestions for image ${set.imageId}, category ${set.categoryId}`;
  if (!Number.isFinite(set.seconds) || set.seconds < 0) throw new Error(`${at}: seconds must be a finite number >= 0, got ${set.seconds}`);
  const seen = new Set<number>();
  for (const k of set.keypoints) {
    const where = `${at}, keypoint ${k.kp}`;
    if (!Number.isInteger(k.kp) || k.kp < 0) throw new Error(`${at}: keypoint index ${k.kp} is not an integer >= 0`);
    if (seen.has(k.kp)) throw new Error(`${where} appears twice`);
    seen.add(k.kp);
    if (!Number.isFinite(k.x) || !Number.isFinite(k.y)) throw new Error(`${where}: position (${k.x}, ${k.y}) is not finite`);
    if (!inUnit(k.confidence)) throw new Error(`${where}: confidence ${k.confidence} is outside [0, 1]`);
    if (!inUnit(k.agreement)) throw new Error(`${where}: agreement ${k.agreement} is outside [0, 1]`);
    if (!Number.isInteger(k.candidates) || k.candidates < 0) throw new Error(`${where}: candidates ${k.candidates} is not an integer >= 0`);
  }
}

/** A descriptor's bytes as stored: float32 little-endian. */
function encodeDescriptor(data: Float32Array): Buffer {
  const buf = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i]!, i * 4);
  return buf;
}

function decodeDescriptor(buf: Buffer, dims: number): Float32Array {
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export class SuggestionsRepo {
  constructor(private readonly db: Db) {}

  /** Stores the set, replacing the image's pending set for that category (one transaction). */
  put(set: SuggestionSetInput): SuggestionSetRecord {
    checkSet(set);
    const keypoints = [...set.keypoints].sort((a, b) => a.kp - b.kp);
    return this.db.transaction(() => {
      this.clear(set.imageId, set.categoryId);
      const r = prepareCached(
        this.db,
        `INSERT INTO suggestion_sets (image_id, category_id, prompt_id, prompt, settings, exemplars, seconds, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ).get(set.imageId, set.categoryId, set.promptId, set.prompt, JSON.stringify(set.settings), JSON.stringify(set.exemplars), set.seconds, now()) as SetRow;
      this.insertKeypoints(r.id, keypoints);
      return toSet(
        r,
        keypoints.map((k) => ({ ...k })),
      );
    })();
  }

  get(imageId: number, categoryId: number): SuggestionSetRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM suggestion_sets WHERE image_id = ? AND category_id = ?').get(imageId, categoryId) as SetRow | undefined;
    if (!r) return undefined;
    const kps = prepareCached(this.db, 'SELECT * FROM suggestions WHERE set_id = ? ORDER BY kp').all(r.id) as SuggestionRow[];
    return toSet(r, kps.map(toSuggestion));
  }

  /** Dismisses the image's pending set for the category; true when there was a set. */
  clear(imageId: number, categoryId: number): boolean {
    return prepareCached(this.db, 'DELETE FROM suggestion_sets WHERE image_id = ? AND category_id = ?').run(imageId, categoryId).changes > 0;
  }

  /** Every pending set of the category, keypoints included, by image path: two queries, no N+1. */
  listForCategory(categoryId: number): SuggestionSetRecord[] {
    const sets = prepareCached(this.db, 'SELECT s.* FROM suggestion_sets s JOIN images i ON i.id = s.image_id WHERE s.category_id = ? ORDER BY i.path, s.image_id').all(categoryId) as SetRow[];
    const rows = prepareCached(this.db, 'SELECT k.* FROM suggestions k JOIN suggestion_sets s ON s.id = k.set_id WHERE s.category_id = ? ORDER BY k.set_id, k.kp').all(categoryId) as SuggestionRow[];
    const bySet = new Map<number, StoredSuggestion[]>();
    for (const r of rows) {
      let list = bySet.get(r.set_id);
      if (!list) bySet.set(r.set_id, (list = []));
      list.push(toSuggestion(r));
    }
    return sets.map((s) => toSet(s, bySet.get(s.id) ?? []));
  }

  /**
   * Replaces a set's keypoints, keeping what produced it (a keypoint schema edit renumbers or
   * removes keypoints).
   */
  setKeypoints(setId: number, keypoints: readonly StoredSuggestion[]): void {
    prepareCached(this.db, 'DELETE FROM suggestions WHERE set_id = ?').run(setId);
    this.insertKeypoints(
      setId,
      [...keypoints].sort((a, b) => a.kp - b.kp),
    );
  }

  putDescriptor(imageId: number, settingsKey: string, data: Float32Array): void {
    if (data.length === 0) throw new Error(`descriptor of image ${imageId} under '${settingsKey}' is empty`);
    prepareCached(
      this.db,
      `INSERT INTO image_descriptors (image_id, settings_key, dims, data, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (image_id, settings_key) DO UPDATE SET dims = excluded.dims, data = excluded.data, created_at = excluded.created_at`,
    ).run(imageId, settingsKey, data.length, encodeDescriptor(data), now());
  }

  getDescriptor(imageId: number, settingsKey: string): Float32Array | undefined {
    const r = prepareCached(this.db, 'SELECT dims, data FROM image_descriptors WHERE image_id = ? AND settings_key = ?').get(imageId, settingsKey) as { dims: number; data: Buffer } | undefined;
    return r && decodeDescriptor(r.data, r.dims);
  }

  /** The descriptors of those images that have one under the key. */
  descriptors(imageIds: readonly number[], settingsKey: string): Map<number, Float32Array> {
    // the ids travel as one JSON parameter: one statement for any number of them
    const rows = prepareCached(this.db, 'SELECT image_id, dims, data FROM image_descriptors WHERE settings_key = ? AND image_id IN (SELECT value FROM json_each(?))').all(
      settingsKey,
      JSON.stringify(imageIds),
    ) as { image_id: number; dims: number; data: Buffer }[];
    return new Map(rows.map((r) => [r.image_id, decodeDescriptor(r.data, r.dims)]));
  }

  private insertKeypoints(setId: number, keypoints: readonly StoredSuggestion[]): void {
    const ins = prepareCached(this.db, 'INSERT INTO suggestions (set_id, kp, x, y, confidence, visible, candidates, agreement) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const k of keypoints) ins.run(setId, k.kp, k.x, k.y, k.confidence, k.visible ? 1 : 0, k.candidates, k.agreement);
  }
}

/**
 * Images generated from prompts: one row per PNG file (in the cache folder), keyed by a digest of
 * everything that decides its pixels, so that asking for the same image again finds it.
 */
import { type Db, now, prepareCached } from '../db.js';

export interface GeneratedImageInput {
  cacheKey: string;
  modelId: number | null;
  promptId: number | null;
  label: string;
  text: string | null;
  category: string | null;
  pairId: number | null;
  seed: number;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  /** Sampler settings and the model's fingerprint (JSON object). */
  settings: Record<string, unknown>;
  /** The PNG, relative to the cache folder. */
  path: string;
  bytes: number;
  seconds: number;
  provider: string;
}

export interface GeneratedImageRecord extends GeneratedImageInput {
  id: number;
  createdAt: number;
}

interface Row {
  id: number;
  cache_key: string;
  model_id: number | null;
  prompt_id: number | null;
  label: string;
  text: string | null;
  category: string | null;
  pair_id: number | null;
  seed: number;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  settings: string;
  path: string;
  bytes: number;
  seconds: number;
  provider: string;
  created_at: number;
}

function toRecord(r: Row): GeneratedImageRecord {
  return {
    id: r.id,
    cacheKey: r.cache_key,
    modelId: r.model_id,
    promptId: r.prompt_id,
    label: r.label,
    text: r.text,
    category: r.category,
    pairId: r.pair_id,
    seed: r.seed,
    steps: r.steps,
    guidance: r.guidance,
    width: r.width,
    height: r.height,
    settings: JSON.parse(r.settings) as Record<string, unknown>,
    path: r.path,
    bytes: r.bytes,
    seconds: r.seconds,
    provider: r.provider,
    createdAt: r.created_at,
  };
}

export class GeneratedImagesRepo {
  constructor(private readonly db: Db) {}

  /** Stores an image's row; an image already stored under the key is replaced (its file was rewritten). */
  put(g: GeneratedImageInput): GeneratedImageRecord {
    const r = prepareCached(
      this.db,
      `INSERT INTO generated_images (cache_key, model_id, prompt_id, label, text, category, pair_id, seed, steps, guidance, width, height, settings, path, bytes, seconds, provider, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (cache_key) DO UPDATE SET model_id = excluded.model_id, prompt_id = excluded.prompt_id, label = excluded.label, text = excluded.text,
         category = excluded.category, pair_id = excluded.pair_id, settings = excluded.settings, path = excluded.path, bytes = excluded.bytes,
         seconds = excluded.seconds, provider = excluded.provider, created_at = excluded.created_at
       RETURNING *`,
    ).get(
      g.cacheKey,
      g.modelId,
      g.promptId,
      g.label,
      g.text,
      g.category,
      g.pairId,
      g.seed,
      g.steps,
      g.guidance,
      g.width,
      g.height,
      JSON.stringify(g.settings),
      g.path,
      g.bytes,
      g.seconds,
      g.provider,
      now(),
    ) as Row;
    return toRecord(r);
  }

  get(id: number): GeneratedImageRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM generated_images WHERE id = ?').get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** The stored images of those keys that have one, by key: one statement for any number of keys. */
  byKeys(keys: readonly string[]): Map<string, GeneratedImageRecord> {
    const rows = prepareCached(this.db, 'SELECT * FROM generated_images WHERE cache_key IN (SELECT value FROM json_each(?))').all(JSON.stringify(keys)) as Row[];
    return new Map(rows.map((r) => [r.cache_key, toRecord(r)]));
  }

  /** Forgets an image's row (its file is the caller's to remove); true when there was one. */
  delete(id: number): boolean {
    return prepareCached(this.db, 'DELETE FROM generated_images WHERE id = ?').run(id).changes > 0;
  }

  count(): number {
    return (prepareCached(this.db, 'SELECT count(*) AS n FROM generated_images').get() as { n: number }).n;
  }
}

/**
 * Schema version 6: images generated from prompts.
 *
 * `generated_images` holds one row per image Stable Diffusion generated from a prompt: what it was
 * generated from (a stored prompt with its category or pair, or free text), the seed and the
 * sampler settings, and the PNG file (relative to the cache folder). `cache_key` digests every
 * input that decides the pixels (model files, prompt content, seed, steps, guidance, size,
 * scheduler), so asking for the same image again returns the stored one.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
-- label: how the UI names the source; text: the free text or the text a baseline stood for;
-- settings: JSON object of the sampler settings and the model's fingerprint; path: the PNG,
-- relative to the cache folder
CREATE TABLE generated_images (
  id          INTEGER PRIMARY KEY,
  cache_key   TEXT    NOT NULL UNIQUE,
  model_id    INTEGER REFERENCES models(id) ON DELETE SET NULL,
  prompt_id   INTEGER REFERENCES prompts(id) ON DELETE SET NULL,
  label       TEXT    NOT NULL,
  text        TEXT,
  category    TEXT,
  pair_id     INTEGER REFERENCES pairs(id) ON DELETE SET NULL,
  seed        INTEGER NOT NULL CHECK (seed >= 0),
  steps       INTEGER NOT NULL CHECK (steps >= 1),
  guidance    REAL    NOT NULL CHECK (guidance >= 0),
  width       INTEGER NOT NULL CHECK (width > 0),
  height      INTEGER NOT NULL CHECK (height > 0),
  settings    TEXT    NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
  path        TEXT    NOT NULL,
  bytes       INTEGER NOT NULL CHECK (bytes > 0),
  seconds     REAL    NOT NULL CHECK (seconds >= 0),
  provider    TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX generated_images_by_prompt ON generated_images (prompt_id);
`;

export const migration: Migration = {
  version: 6,
  name: 'generated-images',
  up(db: Db) {
    db.exec(SQL);
  },
};

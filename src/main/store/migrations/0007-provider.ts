/**
 * Schema version 7: execution providers recorded and chosen.
 *
 * - `cache_entries.provider`: the execution provider that computed a cached tensor (VAE moments,
 *   features, DINOv2 patches; null for files that are not a computation's, e.g. thumbnails).
 *   Tensors differ slightly between providers, so their cache keys include it too (Pipeline).
 * - `settings`: the engine's settings as key -> JSON value, first of them `provider`, the
 *   execution provider work started from the app uses (`auto` or a provider by name).
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
ALTER TABLE cache_entries ADD COLUMN provider TEXT;

CREATE TABLE settings (
  key         TEXT    PRIMARY KEY,
  value       TEXT    NOT NULL CHECK (json_valid(value)),
  updated_at  INTEGER NOT NULL
);
`;

export const migration: Migration = {
  version: 7,
  name: 'provider',
  up(db: Db) {
    db.exec(SQL);
  },
};

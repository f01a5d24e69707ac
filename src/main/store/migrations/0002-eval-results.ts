/**
 * Schema version 2: per-pair evaluation results (Compare sorts pairs by error, the PCK tables are
 * built from them), and the file a prompt was saved to.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
-- error: mean distance to the ground truth in units of the pair's PCK threshold;
-- pck: JSON list, one value per alpha of the run's config
CREATE TABLE eval_pairs (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  pair_id  INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
  method   TEXT    NOT NULL,
  error    REAL    NOT NULL,
  pck      TEXT    NOT NULL CHECK (json_valid(pck)),
  PRIMARY KEY (run_id, method, pair_id)
) WITHOUT ROWID;
CREATE INDEX eval_pairs_by_pair ON eval_pairs (pair_id);
`;

export const migration: Migration = {
  version: 2,
  name: 'eval-results',
  up(db: Db) {
    db.exec(SQL);
  },
};

/**
 * Schema version 4: the time a run has spent running. A run that is cancelled in the evening and
 * resumed the next morning took its active time to train, not the night in between: `active_ms`
 * adds up the stretches between a start (`resumed_at`) and the next stop.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
ALTER TABLE runs ADD COLUMN active_ms INTEGER NOT NULL DEFAULT 0 CHECK (active_ms >= 0);
ALTER TABLE runs ADD COLUMN resumed_at INTEGER;
-- runs from before: their wall time is the best estimate there is
UPDATE runs SET active_ms = max(0, finished_at - started_at) WHERE started_at IS NOT NULL AND finished_at IS NOT NULL;
UPDATE runs SET resumed_at = started_at WHERE status = 'running';
`;

export const migration: Migration = {
  version: 4,
  name: 'run-active-time',
  up(db: Db) {
    db.exec(SQL);
  },
};

/**
 * Schema version 3: the annotation UI's undo/redo history, per image, category and instance.
 *
 * Every change the annotation UI saves is one whole-instance keypoint state (a JSON list of
 * {kp, x, y, visibility}); `annotation_cursor.seq` points at the state the keypoints table holds.
 * Undo and redo move the cursor and write that state back, so history survives saves, reloads and
 * restarts, and several windows share it. `version` grows on every change (save, undo, redo): a
 * save names the version it was based on and is refused if another window moved on meanwhile.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
-- keypoints: JSON [{"kp": 0, "x": 1.5, "y": 2, "visibility": 2}, ...] sorted by kp; action: what the
-- change was ('place nose', 'move tail', 'copy from previous image'...), shown by undo/redo
CREATE TABLE annotation_history (
  image_id     INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  instance     INTEGER NOT NULL DEFAULT 0,
  seq          INTEGER NOT NULL,
  keypoints    TEXT    NOT NULL CHECK (json_valid(keypoints)),
  action       TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (image_id, category_id, instance, seq)
) WITHOUT ROWID;

CREATE TABLE annotation_cursor (
  image_id     INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  instance     INTEGER NOT NULL DEFAULT 0,
  seq          INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  PRIMARY KEY (image_id, category_id, instance)
) WITHOUT ROWID;
CREATE INDEX annotation_cursor_by_category ON annotation_cursor (category_id);
`;

export const migration: Migration = {
  version: 3,
  name: 'annotation-history',
  up(db: Db) {
    db.exec(SQL);
  },
};

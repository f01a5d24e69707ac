/**
 * Schema version 5: matching-assisted annotation.
 *
 * `suggestion_sets` holds an image's pending suggestions for a category (at most one set per image
 * and category; the next suggestion run replaces it), with what produced it: the prompt, the
 * feature settings, the exemplar images and the time it took. `suggestions` holds the set's fused
 * keypoints, one row per schema keypoint some exemplar had. Suggestions are never annotations:
 * accepting one writes an ordinary keypoint, dismissing the set deletes it.
 *
 * `image_descriptors` caches one global feature vector per image and feature settings, so ranking
 * which image to label next (novelty against the labelled images) does not recompute features.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
-- prompt: the prompt's display name (kept when the stored prompt is deleted); settings: JSON
-- object of the feature settings; exemplars: JSON list of the image ids matched from
CREATE TABLE suggestion_sets (
  id           INTEGER PRIMARY KEY,
  image_id     INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  prompt_id    INTEGER REFERENCES prompts(id) ON DELETE SET NULL,
  prompt       TEXT    NOT NULL,
  settings     TEXT    NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
  exemplars    TEXT    NOT NULL CHECK (json_valid(exemplars) AND json_type(exemplars) = 'array'),
  seconds      REAL    NOT NULL CHECK (seconds >= 0),
  created_at   INTEGER NOT NULL,
  UNIQUE (image_id, category_id)
);
CREATE INDEX suggestion_sets_by_category ON suggestion_sets (category_id);

-- one fused keypoint in the image's displayed frame; kp indexes the category's keypoint list
CREATE TABLE suggestions (
  set_id      INTEGER NOT NULL REFERENCES suggestion_sets(id) ON DELETE CASCADE,
  kp          INTEGER NOT NULL CHECK (kp >= 0),
  x           REAL    NOT NULL,
  y           REAL    NOT NULL,
  confidence  REAL    NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
  visible     INTEGER NOT NULL CHECK (visible IN (0, 1)),
  candidates  INTEGER NOT NULL CHECK (candidates >= 0),
  agreement   REAL    NOT NULL CHECK (agreement >= 0 AND agreement <= 1),
  PRIMARY KEY (set_id, kp)
) WITHOUT ROWID;

-- settings_key: the feature settings the vector was computed with (model, prompt, size, ...);
-- data: dims float32 little-endian
CREATE TABLE image_descriptors (
  image_id      INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  settings_key  TEXT    NOT NULL,
  dims          INTEGER NOT NULL CHECK (dims > 0),
  data          BLOB    NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (image_id, settings_key),
  CHECK (length(data) = dims * 4)
);
`;

export const migration: Migration = {
  version: 5,
  name: 'suggestions',
  up(db: Db) {
    db.exec(SQL);
  },
};

/**
 * Schema version 1: datasets (categories, images, image-level keypoint annotations, pairs),
 * models, prompts, runs (metrics, checkpoints) and cache entries.
 *
 * Conventions: timestamps are INTEGER milliseconds since the epoch; JSON columns are checked with
 * json_valid; image paths are relative to their dataset's root with '/' separators; coordinates
 * are pixels of the original image (x right, y down), boxes are corners [x1, y1, x2, y2].
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
CREATE TABLE datasets (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  format       TEXT    NOT NULL CHECK (format IN ('spair', 'pfpascal', 'pfwillow', 'folder', 'coco')),
  -- absolute, symlinks resolved; images live under it
  root         TEXT    NOT NULL,
  -- the annotation file for COCO datasets ('' otherwise); (format, root, source) identifies an import
  source       TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  -- the report of the last import (JSON)
  last_import  TEXT    CHECK (last_import IS NULL OR json_valid(last_import)),
  UNIQUE (format, root, source)
);

-- keypoints: JSON [{"name": "nose", "color": "#e6194b"}, ...]; skeleton: JSON [[a, b], ...] 0-based
CREATE TABLE categories (
  id             INTEGER PRIMARY KEY,
  dataset_id     INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  name           TEXT    NOT NULL,
  ordinal        INTEGER NOT NULL,
  external_id    INTEGER,
  supercategory  TEXT,
  keypoints      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(keypoints)),
  skeleton       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(skeleton)),
  UNIQUE (dataset_id, name)
);

CREATE TABLE images (
  id           INTEGER PRIMARY KEY,
  dataset_id   INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  path         TEXT    NOT NULL,
  -- the category the benchmark files the image under (browsing); annotations carry their own
  category_id  INTEGER REFERENCES categories(id) ON DELETE SET NULL,
  width        INTEGER NOT NULL CHECK (width > 0),
  height       INTEGER NOT NULL CHECK (height > 0),
  format       TEXT    NOT NULL,
  bytes        INTEGER NOT NULL,
  sha256       TEXT    NOT NULL,
  external_id  INTEGER,
  UNIQUE (dataset_id, path)
);
CREATE INDEX images_by_category ON images (category_id);

-- an object instance on an image (COCO's "annotation"): category, box and its keypoints
CREATE TABLE annotations (
  id           INTEGER PRIMARY KEY,
  image_id     INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  instance     INTEGER NOT NULL DEFAULT 0,
  bbox_x1      REAL,
  bbox_y1      REAL,
  bbox_x2      REAL,
  bbox_y2      REAL,
  area         REAL,
  iscrowd      INTEGER NOT NULL DEFAULT 0 CHECK (iscrowd IN (0, 1)),
  external_id  INTEGER,
  updated_at   INTEGER NOT NULL,
  UNIQUE (image_id, category_id, instance),
  CHECK ((bbox_x1 IS NULL) = (bbox_x2 IS NULL) AND (bbox_y1 IS NULL) = (bbox_y2 IS NULL) AND (bbox_x1 IS NULL) = (bbox_y1 IS NULL))
);
CREATE INDEX annotations_by_category ON annotations (category_id);

-- one labelled keypoint of an annotation; kp indexes the category's keypoint list.
-- COCO visibility: 1 labelled but hidden, 2 labelled and visible; unlabelled keypoints (0) have no row.
CREATE TABLE keypoints (
  annotation_id  INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
  kp             INTEGER NOT NULL CHECK (kp >= 0),
  x              REAL    NOT NULL,
  y              REAL    NOT NULL,
  visibility     INTEGER NOT NULL CHECK (visibility IN (1, 2)),
  PRIMARY KEY (annotation_id, kp)
) WITHOUT ROWID;

-- a benchmark pair with its correspondences: points is n_pts x 4 float64 little-endian
-- (src x, src y, trg x, trg y) in original image pixels, unflipped; flip (PF-Pascal trn) asks the
-- reader to mirror both images, their keypoints and boxes horizontally. kp_ids: JSON list of the
-- category keypoint index of each row (SPair kps_ids, PF-Pascal .mat row), or NULL.
CREATE TABLE pairs (
  id                   INTEGER PRIMARY KEY,
  dataset_id           INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  split                TEXT    NOT NULL CHECK (split IN ('trn', 'val', 'test')),
  name                 TEXT    NOT NULL,
  ordinal              INTEGER NOT NULL,
  category_id          INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  src_image_id         INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  trg_image_id         INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  src_x1 REAL, src_y1 REAL, src_x2 REAL, src_y2 REAL,
  trg_x1 REAL, trg_y1 REAL, trg_x2 REAL, trg_y2 REAL,
  n_pts                INTEGER NOT NULL CHECK (n_pts >= 0),
  points               BLOB    NOT NULL,
  kp_ids               TEXT    CHECK (kp_ids IS NULL OR json_valid(kp_ids)),
  flip                 INTEGER NOT NULL DEFAULT 0 CHECK (flip IN (0, 1)),
  mirror               INTEGER,
  viewpoint_variation  INTEGER,
  scale_variation      INTEGER,
  truncation           INTEGER,
  occlusion            INTEGER,
  UNIQUE (dataset_id, split, name),
  CHECK (length(points) = n_pts * 32)
);
CREATE INDEX pairs_by_split ON pairs (dataset_id, split, ordinal);
CREATE INDEX pairs_by_category ON pairs (category_id, split);
CREATE INDEX pairs_by_src ON pairs (src_image_id);
CREATE INDEX pairs_by_trg ON pairs (trg_image_id);

-- hashes: JSON {"unet/model.onnx": "<sha256>", ...}; info: JSON (validated shapes, scaling factor...)
CREATE TABLE models (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL UNIQUE,
  kind          TEXT    NOT NULL CHECK (kind IN ('stable-diffusion', 'dinov2')),
  folder        TEXT    NOT NULL UNIQUE,
  hashes        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(hashes)),
  info          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(info)),
  provider      TEXT,
  validated_at  INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- kind: single (one set of rows), class (one set per category), cpm (CPM parameters), baseline
-- (empty / template prompt, DINOv2 alone). config: JSON (rows, template...); provenance: JSON.
CREATE TABLE prompts (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('single', 'class', 'cpm', 'baseline')),
  model_id    INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  step        INTEGER,
  config      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
  provenance  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(provenance)),
  created_at  INTEGER NOT NULL
);

-- the prompt's parameters: 'rows', 'class/<category>', 'cpm/<parameter>'... as raw little-endian data
CREATE TABLE prompt_tensors (
  prompt_id  INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  dtype      TEXT    NOT NULL CHECK (dtype IN ('float32', 'float64', 'int32', 'int64')),
  dims       TEXT    NOT NULL CHECK (json_valid(dims)),
  data       BLOB    NOT NULL,
  PRIMARY KEY (prompt_id, name)
) WITHOUT ROWID;

-- training and evaluation runs: config JSON, status, provider, timings; a failed run says why.
CREATE TABLE runs (
  id              INTEGER PRIMARY KEY,
  kind            TEXT    NOT NULL CHECK (kind IN ('train', 'eval')),
  name            TEXT    NOT NULL DEFAULT '',
  status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  config          TEXT    NOT NULL CHECK (json_valid(config)),
  model_id        INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_id      INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  prompt_id       INTEGER REFERENCES prompts(id) ON DELETE SET NULL,
  provider        TEXT,
  step            INTEGER NOT NULL DEFAULT 0,
  total_steps     INTEGER,
  failure_reason  TEXT,
  pid             INTEGER,
  created_at      INTEGER NOT NULL,
  started_at      INTEGER,
  updated_at      INTEGER NOT NULL,
  heartbeat_at    INTEGER,
  finished_at     INTEGER,
  CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE metrics (
  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name         TEXT    NOT NULL,
  step         INTEGER NOT NULL,
  value        REAL    NOT NULL,
  recorded_at  INTEGER NOT NULL,
  PRIMARY KEY (run_id, name, step)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step          INTEGER NOT NULL,
  path          TEXT    NOT NULL,
  bytes         INTEGER NOT NULL,
  sha256        TEXT    NOT NULL,
  metric_name   TEXT,
  metric_value  REAL,
  is_best       INTEGER NOT NULL DEFAULT 0 CHECK (is_best IN (0, 1)),
  created_at    INTEGER NOT NULL,
  UNIQUE (run_id, step)
);

-- files in the cache folder (thumbnails, latents, features, compiled graphs), for LRU cleanup
CREATE TABLE cache_entries (
  key           TEXT    PRIMARY KEY,
  kind          TEXT    NOT NULL,
  path          TEXT    NOT NULL,
  bytes         INTEGER NOT NULL,
  sha256        TEXT,
  meta          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER NOT NULL
);
CREATE INDEX cache_lru ON cache_entries (last_used_at);
`;

export const migration: Migration = {
  version: 1,
  name: 'init',
  up(db: Db) {
    db.exec(SQL);
  },
};

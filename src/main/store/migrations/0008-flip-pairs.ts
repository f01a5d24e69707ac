/**
 * Schema version 8: symmetric keypoint pairs.
 *
 * - `categories.flip_pairs`: JSON `[[a, b], ...]`, 0-based keypoint indices that swap names when the
 *   image is mirrored (left_eye <-> right_eye; YOLO's `flip_idx`). A keypoint in no pair lies on the
 *   symmetry axis and keeps its name. Suggestions match each exemplar and its mirror image with it.
 */
import type { Db, Migration } from '../sql.js';

const SQL = /* sql */ `
ALTER TABLE categories ADD COLUMN flip_pairs TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(flip_pairs));
`;

export const migration: Migration = {
  version: 8,
  name: 'flip-pairs',
  up(db: Db) {
    db.exec(SQL);
  },
};

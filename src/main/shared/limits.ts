/**
 * Size limits that more than one layer enforces and the UI states: one definition, so that what an
 * importer lets in is exactly what the schema editor can then edit.
 */

/**
 * The most keypoints one category may define. The schema editor allows this many and every
 * importer checks it before anything is written: a schema is loaded whole by every view, every
 * annotation save and every suggestion, so an unbounded one (a COCO category with a million names)
 * would stall every other client of the engine.
 */
export const MAX_KEYPOINTS_PER_CATEGORY = 200;

/** The longest keypoint name the schema editor and the importers accept. */
export const MAX_KEYPOINT_NAME_LENGTH = 64;

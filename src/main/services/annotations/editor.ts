/**
 * Keypoint editing with undo and redo kept in the store.
 *
 * The annotation UI saves the whole keypoint state of one instance (image, category, instance) on
 * every change. Each state is a row of `annotation_history`; `annotation_cursor` points at the one
 * the keypoints table holds. Saving truncates the redo branch and appends; undo and redo move the
 * cursor and write that state back. Everything happens in the caller's write transaction, so the
 * keypoints table and the history never disagree, and undo works across saves, page reloads,
 * restarts and windows.
 *
 * Changes made elsewhere (a COCO re-import, the CLI) are noticed: when the live keypoints differ
 * from the state under the cursor, the live state is appended first, so undo steps back from what
 * the user actually sees. Each change also bumps `version`; a save based on an older version (the
 * same image edited in two windows) is refused with CONFLICT instead of overwriting silently.
 */
import { AppError, FieldError } from '../../shared/errors.js';
import type { Db } from '../../store/db.js';
import { AnnotationHistoryRepo, type HistoryCursor, type InstanceKey } from '../../store/repositories/annotation-history.js';
import { type Category, type DatasetFormat, DatasetsRepo } from '../../store/repositories/datasets.js';
import { type ImageWithRoot, ImagesRepo, type Keypoint } from '../../store/repositories/images.js';

/** States kept per instance; older ones are dropped. */
export const HISTORY_LIMIT = 500;

/** Formats whose keypoints the user edits (benchmarks derive theirs from their pair files). */
export const EDITABLE_FORMATS: ReadonlySet<DatasetFormat> = new Set(['folder', 'coco']);

export interface EditorState {
  keypoints: Keypoint[];
  version: number;
  canUndo: boolean;
  canRedo: boolean;
  undoAction: string | null;
  redoAction: string | null;
}

export interface EditTarget {
  image: ImageWithRoot;
  category: Category;
  datasetId: number;
  format: DatasetFormat;
}

/** Loads and checks what an edit refers to: the image, and a category of the image's dataset. */
export function editTarget(db: Db, key: InstanceKey, forWriting: boolean): EditTarget {
  const image = new ImagesRepo(db).get(key.imageId);
  if (!image) throw new AppError('NOT_FOUND', `no image with id ${key.imageId}`);
  const datasets = new DatasetsRepo(db);
  const category = datasets.category(key.categoryId);
  if (!category || category.datasetId !== image.datasetId) {
    throw new AppError('INVALID_ARGUMENT', `category ${key.categoryId} does not belong to the dataset of image ${key.imageId} (${image.path})`);
  }
  const dataset = datasets.find(image.datasetId)!;
  if (forWriting && !EDITABLE_FORMATS.has(dataset.format)) {
    throw new AppError('FORBIDDEN', `'${dataset.name}' is a ${dataset.format} benchmark: its keypoints come from its annotation files and are read-only here; annotate a folder or COCO dataset`);
  }
  return { image, category, datasetId: dataset.id, format: dataset.format };
}

function sameState(a: readonly Keypoint[], b: readonly Keypoint[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((k, i) => {
    const o = b[i]!;
    return k.kp === o.kp && k.x === o.x && k.y === o.y && k.visibility === o.visibility;
  });
}

function sorted(kps: readonly Keypoint[]): Keypoint[] {
  return kps.map((k) => ({ kp: k.kp, x: k.x, y: k.y, visibility: k.visibility })).sort((a, b) => a.kp - b.kp);
}

/** Checks a keypoint state against the schema and the image; returns it sorted by keypoint. */
export function checkKeypoints(target: EditTarget, keypoints: readonly Keypoint[]): Keypoint[] {
  const n = target.category.keypoints.length;
  const seen = new Set<number>();
  const { width, height, path } = target.image;
  for (const k of keypoints) {
    const name = target.category.keypoints[k.kp]?.name;
    if (!Number.isInteger(k.kp) || k.kp < 0 || k.kp >= n) {
      throw new FieldError('INVALID_ARGUMENT', 'keypoints', `keypoint index ${k.kp} is not in the schema of '${target.category.name}' (${n} keypoint${n === 1 ? '' : 's'})`);
    }
    if (seen.has(k.kp)) throw new FieldError('INVALID_ARGUMENT', 'keypoints', `keypoint '${name}' appears twice`);
    seen.add(k.kp);
    if (!Number.isFinite(k.x) || !Number.isFinite(k.y) || k.x < 0 || k.y < 0 || k.x > width || k.y > height) {
      throw new FieldError('INVALID_ARGUMENT', 'keypoints', `keypoint '${name}' (${k.x}, ${k.y}) lies outside the image ${path} (${width}x${height})`);
    }
    if (k.visibility !== 1 && k.visibility !== 2) throw new FieldError('INVALID_ARGUMENT', 'keypoints', `keypoint '${name}' has visibility ${String(k.visibility)}; use 1 (occluded) or 2 (visible)`);
  }
  return sorted(keypoints);
}

function liveKeypoints(db: Db, key: InstanceKey): Keypoint[] {
  return sorted(new ImagesRepo(db).instance(key.imageId, key.categoryId, key.instance)?.keypoints ?? []);
}

/**
 * The cursor, creating the history on first use and catching up with changes made outside the
 * editor (see the module comment).
 */
function syncedCursor(db: Db, key: InstanceKey): HistoryCursor {
  const history = new AnnotationHistoryRepo(db);
  const live = liveKeypoints(db, key);
  const cursor = history.cursor(key);
  if (!cursor) {
    history.append(key, 0, live, 'as imported');
    const c = { seq: 0, version: 0 };
    history.setCursor(key, c);
    return c;
  }
  const head = history.entry(key, cursor.seq);
  if (head && sameState(head.keypoints, live)) return cursor;
  history.truncateAfter(key, cursor.seq);
  const c = { seq: cursor.seq + 1, version: cursor.version + 1 };
  history.append(key, c.seq, live, 'changed outside the editor');
  history.setCursor(key, c);
  return c;
}

/** The state as the editor shows it (read-only: no history is created). */
export function readState(db: Db, key: InstanceKey): EditorState {
  const history = new AnnotationHistoryRepo(db);
  const live = liveKeypoints(db, key);
  const cursor = history.cursor(key);
  if (!cursor) return { keypoints: live, version: 0, canUndo: false, canRedo: false, undoAction: null, redoAction: null };
  const head = history.entry(key, cursor.seq);
  if (!head || !sameState(head.keypoints, live)) {
    // Changed outside the editor: the next write records the live state first (as version + 1),
    // so undo is possible from here and a save based on this view is not a conflict.
    return { keypoints: live, version: cursor.version + 1, canUndo: true, canRedo: false, undoAction: 'changed outside the editor', redoAction: null };
  }
  const next = history.neighbour(key, cursor.seq, 1);
  const prev = history.neighbour(key, cursor.seq, -1);
  return { keypoints: live, version: cursor.version, canUndo: prev !== undefined, canRedo: next !== undefined, undoAction: prev ? head.action : null, redoAction: next?.action ?? null };
}

function checkVersion(cursor: HistoryCursor, baseVersion: number, target: EditTarget): void {
  if (cursor.version !== baseVersion) {
    throw new AppError(
      'CONFLICT',
      `the keypoints of ${target.image.path} were changed in another window (version ${cursor.version}, this window had ${baseVersion}); reloaded them, please repeat the last change`,
    );
  }
}

/** Saves a whole keypoint state as one undo step; a state equal to the current one changes nothing. */
export function saveState(db: Db, key: InstanceKey, keypoints: readonly Keypoint[], baseVersion: number, action: string): EditorState {
  const target = editTarget(db, key, true);
  const state = checkKeypoints(target, keypoints);
  const history = new AnnotationHistoryRepo(db);
  const cursor = syncedCursor(db, key);
  checkVersion(cursor, baseVersion, target);
  const head = history.entry(key, cursor.seq);
  if (head && sameState(head.keypoints, state)) return readState(db, key);
  history.truncateAfter(key, cursor.seq);
  const next = { seq: cursor.seq + 1, version: cursor.version + 1 };
  history.append(key, next.seq, state, action.trim() || 'edit');
  history.prune(key, next.seq, HISTORY_LIMIT);
  history.setCursor(key, next);
  new ImagesRepo(db).setInstanceKeypoints(key.imageId, key.categoryId, key.instance, state);
  return readState(db, key);
}

/** Moves the cursor one state back (-1, undo) or forward (+1, redo) and writes that state. */
export function stepHistory(db: Db, key: InstanceKey, dir: -1 | 1, baseVersion: number): EditorState {
  const target = editTarget(db, key, true);
  const history = new AnnotationHistoryRepo(db);
  const cursor = syncedCursor(db, key);
  checkVersion(cursor, baseVersion, target);
  const to = history.neighbour(key, cursor.seq, dir);
  if (!to) return readState(db, key);
  history.setCursor(key, { seq: to.seq, version: cursor.version + 1 });
  new ImagesRepo(db).setInstanceKeypoints(key.imageId, key.categoryId, key.instance, to.keypoints);
  return readState(db, key);
}

/** Use cases of the annotation domain: keypoint schemas, and one instance's keypoints with undo/redo. */
import { editTarget, type EditorState, readState, saveState, stepHistory } from './editor.js';
import { type SchemaEntry, setSchema } from './schema.js';
import type { Db } from '../../store/db.js';
import type { InstanceKey } from '../../store/repositories/annotation-history.js';
import type { AnnotationState } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';
import { categoryInfo, storeOf } from '../app/catalog.js';

function toState(key: InstanceKey, s: EditorState): AnnotationState {
  return { ...key, keypoints: s.keypoints, version: s.version, canUndo: s.canUndo, canRedo: s.canRedo, undoAction: s.undoAction, redoAction: s.redoAction };
}

/** A category's keypoint schema: its keypoints (in order) and the skeleton's edges between them. */
export interface CategorySchema {
  keypoints: readonly SchemaEntry[];
  skeleton: readonly (readonly [number, number])[];
  /** Symmetric pairs (left_eye <-> right_eye); absent: the current ones follow the edit. */
  flipPairs?: readonly (readonly [number, number])[];
}

/** An instance's keypoints as the editor saves them, on top of the version it read (`action` names the change in the history). */
export interface AnnotationEdit extends InstanceKey {
  keypoints: { kp: number; x: number; y: number; visibility: 1 | 2 }[];
  baseVersion: number;
  action: string;
}

/** One step back or forward in an instance's history, from the version the editor shows. */
export interface HistoryStep extends InstanceKey {
  baseVersion: number;
}

/** Runs a change in one write transaction and tells every window about it. */
async function change(ctx: AppContext, key: InstanceKey, fn: (db: Db) => EditorState): Promise<AnnotationState> {
  const { state, datasetId } = await storeOf(ctx).write((db) => ({ state: fn(db), datasetId: editTarget(db, key, false).datasetId }));
  ctx.events.emit('annotation:changed', { datasetId, ...key, version: state.version, keypoints: state.keypoints.length });
  return toState(key, state);
}

export async function setCategorySchema(ctx: AppContext, categoryId: number, { keypoints, skeleton, flipPairs }: CategorySchema) {
  const result = await storeOf(ctx).write((db) => {
    const r = setSchema(db, categoryId, keypoints, skeleton, flipPairs);
    return { ...r, category: categoryInfo(db, r.category) };
  });
  ctx.events.emit('dataset:changed', { id: result.category.datasetId, reason: 'schema' });
  return result;
}

export async function getAnnotation(ctx: AppContext, { imageId, categoryId, instance }: InstanceKey) {
  return storeOf(ctx).read((db) => {
    const key = { imageId, categoryId, instance };
    editTarget(db, key, false);
    return toState(key, readState(db, key));
  });
}

export async function saveAnnotation(ctx: AppContext, { imageId, categoryId, instance, keypoints, baseVersion, action }: AnnotationEdit) {
  const key = { imageId, categoryId, instance };
  return change(ctx, key, (db) => saveState(db, key, keypoints, baseVersion, action));
}

export async function undoAnnotation(ctx: AppContext, { imageId, categoryId, instance, baseVersion }: HistoryStep) {
  const key = { imageId, categoryId, instance };
  return change(ctx, key, (db) => stepHistory(db, key, -1, baseVersion));
}

export async function redoAnnotation(ctx: AppContext, { imageId, categoryId, instance, baseVersion }: HistoryStep) {
  const key = { imageId, categoryId, instance };
  return change(ctx, key, (db) => stepHistory(db, key, 1, baseVersion));
}

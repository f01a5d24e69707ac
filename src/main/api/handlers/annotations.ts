/** Handlers of the annotation domain: keypoint schemas, and one instance's keypoints with undo/redo. */
import { editTarget, type EditorState, readState, saveState, stepHistory } from '../../engine/annotations/editor.js';
import { setSchema } from '../../engine/annotations/schema.js';
import type { Db } from '../../store/db.js';
import type { InstanceKey } from '../../store/repositories/annotation-history.js';
import type { AnnotationState } from '../contract.js';
import type { ApiContext, DomainHandlers } from '../handlers.js';
import { categoryInfo, storeOf } from './support.js';

type AnnotationMethods = 'categories:set-schema' | 'annotations:get' | 'annotations:save' | 'annotations:undo' | 'annotations:redo';

function toState(key: InstanceKey, s: EditorState): AnnotationState {
  return { ...key, keypoints: s.keypoints, version: s.version, canUndo: s.canUndo, canRedo: s.canRedo, undoAction: s.undoAction, redoAction: s.redoAction };
}

/** Runs a change in one write transaction and tells every window about it. */
async function change(ctx: ApiContext, key: InstanceKey, fn: (db: Db) => EditorState): Promise<AnnotationState> {
  const { state, datasetId } = await storeOf(ctx).write((db) => ({ state: fn(db), datasetId: editTarget(db, key, false).datasetId }));
  ctx.events.emit('annotation:changed', { datasetId, ...key, version: state.version, keypoints: state.keypoints.length });
  return toState(key, state);
}

export const annotationHandlers: DomainHandlers<AnnotationMethods> = {
  'categories:set-schema': async ({ categoryId, keypoints, skeleton }, ctx) => {
    const result = await storeOf(ctx).write((db) => {
      const r = setSchema(db, categoryId, keypoints, skeleton);
      return { ...r, category: categoryInfo(db, r.category) };
    });
    ctx.events.emit('dataset:changed', { id: result.category.datasetId, reason: 'schema' });
    return result;
  },

  'annotations:get': async ({ imageId, categoryId, instance }, ctx) =>
    storeOf(ctx).read((db) => {
      const key = { imageId, categoryId, instance };
      editTarget(db, key, false);
      return toState(key, readState(db, key));
    }),

  'annotations:save': async ({ imageId, categoryId, instance, keypoints, baseVersion, action }, ctx) => {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => saveState(db, key, keypoints, baseVersion, action));
  },

  'annotations:undo': async ({ imageId, categoryId, instance, baseVersion }, ctx) => {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => stepHistory(db, key, -1, baseVersion));
  },

  'annotations:redo': async ({ imageId, categoryId, instance, baseVersion }, ctx) => {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => stepHistory(db, key, 1, baseVersion));
  },
};

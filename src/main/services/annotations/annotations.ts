/** Use cases of the annotation domain: keypoint schemas, and one instance's keypoints with undo/redo. */
import { editTarget, type EditorState, readState, saveState, stepHistory } from './editor.js';
import { setSchema } from './schema.js';
import type { Db } from '../../store/db.js';
import type { InstanceKey } from '../../store/repositories/annotation-history.js';
import type { AnnotationState, InvokeParsedArgs } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';
import { categoryInfo, storeOf } from '../app/catalog.js';


function toState(key: InstanceKey, s: EditorState): AnnotationState {
  return { ...key, keypoints: s.keypoints, version: s.version, canUndo: s.canUndo, canRedo: s.canRedo, undoAction: s.undoAction, redoAction: s.redoAction };
}

/** Runs a change in one write transaction and tells every window about it. */
async function change(ctx: AppContext, key: InstanceKey, fn: (db: Db) => EditorState): Promise<AnnotationState> {
  const { state, datasetId } = await storeOf(ctx).write((db) => ({ state: fn(db), datasetId: editTarget(db, key, false).datasetId }));
  ctx.events.emit('annotation:changed', { datasetId, ...key, version: state.version, keypoints: state.keypoints.length });
  return toState(key, state);
}

export async function setCategorySchema(ctx: AppContext, { categoryId, keypoints, skeleton }: InvokeParsedArgs<'categories:set-schema'>) {
    const result = await storeOf(ctx).write((db) => {
      const r = setSchema(db, categoryId, keypoints, skeleton);
      return { ...r, category: categoryInfo(db, r.category) };
    });
    ctx.events.emit('dataset:changed', { id: result.category.datasetId, reason: 'schema' });
    return result;
  }

export async function getAnnotation(ctx: AppContext, { imageId, categoryId, instance }: InvokeParsedArgs<'annotations:get'>) {
  return storeOf(ctx).read((db) => {
      const key = { imageId, categoryId, instance };
      editTarget(db, key, false);
      return toState(key, readState(db, key));
    });
}

export async function saveAnnotation(ctx: AppContext, { imageId, categoryId, instance, keypoints, baseVersion, action }: InvokeParsedArgs<'annotations:save'>) {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => saveState(db, key, keypoints, baseVersion, action));
  }

export async function undoAnnotation(ctx: AppContext, { imageId, categoryId, instance, baseVersion }: InvokeParsedArgs<'annotations:undo'>) {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => stepHistory(db, key, -1, baseVersion));
  }

export async function redoAnnotation(ctx: AppContext, { imageId, categoryId, instance, baseVersion }: InvokeParsedArgs<'annotations:redo'>) {
    const key = { imageId, categoryId, instance };
    return change(ctx, key, (db) => stepHistory(db, key, 1, baseVersion));
  }

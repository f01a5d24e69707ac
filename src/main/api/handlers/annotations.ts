/** Handlers of the annotations domain: each calls one use case of services/annotations.ts. */
import * as svc from '../../services/annotations/annotations.js';
import type { DomainHandlers } from '../handlers.js';

type AnnotationMethods = 'categories:set-schema' | 'annotations:get' | 'annotations:save' | 'annotations:undo' | 'annotations:redo';

export const annotationHandlers: DomainHandlers<AnnotationMethods> = {
  'categories:set-schema': (a, ctx) => svc.setCategorySchema(ctx, a),
  'annotations:get': (a, ctx) => svc.getAnnotation(ctx, a),
  'annotations:save': (a, ctx) => svc.saveAnnotation(ctx, a),
  'annotations:undo': (a, ctx) => svc.undoAnnotation(ctx, a),
  'annotations:redo': (a, ctx) => svc.redoAnnotation(ctx, a),
};

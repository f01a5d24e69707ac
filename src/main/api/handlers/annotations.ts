/** Handlers of `annotations:*`: each maps the contract's arguments to a use case of services/annotations/annotations.ts. */
import * as svc from '../../services/annotations/annotations.js';
import type { DomainHandlers } from '../handler-types.js';

type AnnotationMethod = 'annotations:get' | 'annotations:save' | 'annotations:undo' | 'annotations:redo';

export const annotationHandlers: DomainHandlers<AnnotationMethod> = {
  'annotations:get': (a, ctx) => svc.getAnnotation(ctx, a),
  'annotations:save': (a, ctx) => svc.saveAnnotation(ctx, a),
  'annotations:undo': (a, ctx) => svc.undoAnnotation(ctx, a),
  'annotations:redo': (a, ctx) => svc.redoAnnotation(ctx, a),
};

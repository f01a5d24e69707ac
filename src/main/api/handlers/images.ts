/** Handlers of `images:*`: each maps the contract's arguments to a use case of services/images/images.ts. */
import * as svc from '../../services/images/images.js';
import type { DomainHandlers } from '../handler-types.js';

export const imageHandlers: DomainHandlers<'images:list' | 'images:locate' | 'images:get'> = {
  'images:list': (a, ctx) => svc.listImages(ctx, a),
  'images:locate': (a, ctx) => svc.locateImage(ctx, a),
  'images:get': ({ id }, ctx) => svc.imageDetail(ctx, id),
};

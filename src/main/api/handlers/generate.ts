/** Handlers of `generate:*`: each maps the contract's arguments to a use case of services/generate/generate.ts. */
import * as svc from '../../services/generate/generate.js';
import type { DomainHandlers } from '../handler-types.js';

export const generateHandlers: DomainHandlers<'generate:start' | 'generate:lookup' | 'generate:estimate'> = {
  'generate:start': (a, ctx) => svc.startGeneration(ctx, a),
  'generate:lookup': (a, ctx) => svc.lookupGallery(ctx, a),
  'generate:estimate': (a, ctx) => svc.estimateGeneration(ctx, a),
};

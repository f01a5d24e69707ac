/** Handlers of `pairs:*`: each maps the contract's arguments to a use case of services/pairs/pairs.ts. */
import * as svc from '../../services/pairs/pairs.js';
import type { DomainHandlers } from '../handler-types.js';

type PairMethods = 'pairs:list' | 'pairs:get' | 'pairs:build' | 'pairs:set-split' | 'pairs:delete';

export const pairHandlers: DomainHandlers<PairMethods> = {
  'pairs:list': (a, ctx) => svc.listPairs(ctx, a),
  'pairs:get': ({ id }, ctx) => svc.pairDetail(ctx, id),
  'pairs:build': (a, ctx) => svc.startPairBuild(ctx, a),
  'pairs:set-split': (a, ctx) => svc.movePairs(ctx, a),
  'pairs:delete': (a, ctx) => svc.deletePairs(ctx, a),
};

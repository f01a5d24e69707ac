/** Handlers of the pairs domain: each calls one use case of services/pairs.ts. */
import * as svc from '../../services/pairs/pairs.js';
import type { DomainHandlers } from '../handlers.js';

type PairMethods = 'pairs:list' | 'pairs:get' | 'pairs:build' | 'pairs:set-split' | 'pairs:delete';

export const pairHandlers: DomainHandlers<PairMethods> = {
  'pairs:list': (a, ctx) => svc.listPairs(ctx, a),
  'pairs:get': (a, ctx) => svc.pairDetail(ctx, a),
  'pairs:build': (a, ctx) => svc.startPairBuild(ctx, a),
  'pairs:set-split': (a, ctx) => svc.movePairs(ctx, a),
  'pairs:delete': (a, ctx) => svc.deletePairs(ctx, a),
};

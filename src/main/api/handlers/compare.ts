/** Handlers of `compare:*`: each maps the contract's arguments to a use case of services/compare/compare.ts. */
import * as svc from '../../services/compare/compare.js';
import type { DomainHandlers } from '../handler-types.js';

type CompareMethod = 'compare:pairs' | 'compare:pair' | 'compare:predict' | 'compare:heatmap' | 'compare:estimate';

export const compareHandlers: DomainHandlers<CompareMethod> = {
  'compare:pairs': (a, ctx) => svc.comparePairs(ctx, a),
  'compare:pair': ({ pairId }, ctx) => svc.comparePair(ctx, pairId),
  'compare:predict': (a, ctx) => svc.predict(ctx, a),
  'compare:heatmap': (a, ctx) => svc.heatmap(ctx, a),
  'compare:estimate': (a, ctx) => svc.estimateCompare(ctx, a),
};

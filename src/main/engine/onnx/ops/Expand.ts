import { mapN } from './fold-helpers.js';
import type { OpDef } from './op.js';
import { broadcastShapes } from './shape-helpers.js';

// shape: Y = broadcast(X, shape); fold: x broadcast to Y
export const Expand: OpDef = {
  opType: 'Expand',
  infer: (ctx) => ctx.one(broadcastShapes(ctx.node, ctx.need(0).dims, ctx.constInts(1, 'shape')!)),
  fold: (ctx) => [mapN(ctx.out[0].dims, [ctx.input(0)], (a) => a, ctx.out[0].dtype)],
};

import { mapN } from './fold-helpers.js';
import type { OpDef } from './op.js';
import { broadcastShapes } from './shape-helpers.js';

// shape: Y = broadcast(C, A, B); fold: y = c ? a : b
export const Where: OpDef = {
  opType: 'Where',
  infer: (ctx) => ctx.one(broadcastShapes(ctx.node, ctx.need(0).dims, ctx.need(1).dims, ctx.need(2).dims)),
  fold: (ctx) => [mapN(ctx.out[0].dims, [ctx.input(0), ctx.input(1), ctx.input(2)], (c, a, b) => (c ? a : b), ctx.out[0].dtype)],
};

import { relabelFold } from './families.js';
import type { OpDef } from './op.js';
import { reshapeTarget } from './shape-helpers.js';

// shape: the constant target (0 copies the input dim unless allowzero, -1 takes the rest); fold: same values
export const Reshape: OpDef = {
  opType: 'Reshape',
  infer: (ctx) => ctx.one(reshapeTarget(ctx.node, ctx.need(0).dims, ctx.constInts(1, 'shape')!)),
  fold: relabelFold,
};

import type { GradRule } from '../rule.js';

// dX = -dY · sin X
export const Cos: GradRule = {
  opType: 'Cos',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.neg(ctx.mul(ctx.GO(0)!, ctx.op1('Sin', [ctx.I(0)]))));
  },
};

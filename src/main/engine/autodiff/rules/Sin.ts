import type { GradRule } from '../rule.js';

// dX = dY · cos X
export const Sin: GradRule = {
  opType: 'Sin',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.op1('Cos', [ctx.I(0)])));
  },
};

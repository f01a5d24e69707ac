import type { GradRule } from '../rule.js';

// dX = dY · sign(X)
export const Abs: GradRule = {
  opType: 'Abs',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.op1('Sign', [ctx.I(0)])));
  },
};

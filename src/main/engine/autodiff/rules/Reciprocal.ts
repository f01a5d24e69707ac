import type { GradRule } from '../rule.js';

// dX = -dY · Y²
export const Reciprocal: GradRule = {
  opType: 'Reciprocal',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const y = ctx.O(0);
    ctx.GI(0, ctx.neg(ctx.mul(ctx.GO(0)!, ctx.mul(y, y))));
  },
};

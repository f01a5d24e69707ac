import type { GradRule } from '../rule.js';

// dX = dY · Y
export const Exp: GradRule = {
  opType: 'Exp',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.O(0)));
  },
};

import type { GradRule } from '../rule.js';

// dX = dY · 0.5 / Y
export const Sqrt: GradRule = {
  opType: 'Sqrt',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.div(ctx.mul(ctx.GO(0)!, ctx.scalar(0.5, ctx.O(0))), ctx.O(0)));
  },
};

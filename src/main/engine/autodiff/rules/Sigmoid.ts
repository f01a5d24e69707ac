import type { GradRule } from '../rule.js';

// dX = dY · Y · (1 - Y)
export const Sigmoid: GradRule = {
  opType: 'Sigmoid',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const y = ctx.O(0);
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.mul(y, ctx.sub(ctx.scalar(1, y), y))));
  },
};

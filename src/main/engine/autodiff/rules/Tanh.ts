import type { GradRule } from '../rule.js';

// dX = dY · (1 - Y²)
export const Tanh: GradRule = {
  opType: 'Tanh',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const y = ctx.O(0);
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.sub(ctx.scalar(1, y), ctx.mul(y, y))));
  },
};

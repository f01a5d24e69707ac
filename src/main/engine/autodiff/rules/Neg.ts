import type { GradRule } from '../rule.js';

// dX = -dY
export const Neg: GradRule = {
  opType: 'Neg',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.neg(ctx.GO(0)!));
  },
};

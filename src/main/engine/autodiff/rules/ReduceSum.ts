import type { GradRule } from '../rule.js';

// dX = expand(dY with reduced axes kept, shape(X))
export const ReduceSum: GradRule = {
  opType: 'ReduceSum',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    const { xs, kept } = ctx.reduction();
    ctx.GI(0, ctx.expand(ctx.reshape(ctx.GO(0)!, kept), xs));
  },
};

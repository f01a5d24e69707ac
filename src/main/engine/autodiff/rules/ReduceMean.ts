import type { GradRule } from '../rule.js';

// dX = expand(dY with reduced axes kept, shape(X)) / n
export const ReduceMean: GradRule = {
  opType: 'ReduceMean',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    const { xs, axes, kept } = ctx.reduction();
    const count = axes.reduce((p, a) => p * xs[a], 1);
    const g = ctx.reshape(ctx.GO(0)!, kept);
    ctx.GI(0, ctx.expand(ctx.mul(g, ctx.scalar(1 / count, g)), xs));
  },
};

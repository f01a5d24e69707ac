import type { GradRule } from '../rule.js';

// dX = unbroadcast(dY, shape(X))
export const Expand: GradRule = {
  opType: 'Expand',
  opsets: [8, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.unbroadcast(ctx.GO(0)!, ctx.shape(ctx.I(0))));
  },
};

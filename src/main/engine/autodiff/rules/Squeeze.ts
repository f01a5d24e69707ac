import type { GradRule } from '../rule.js';

// dX = Reshape(dY, shape(X))
export const Squeeze: GradRule = {
  opType: 'Squeeze',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.reshape(ctx.GO(0)!, ctx.shape(ctx.I(0))));
  },
};

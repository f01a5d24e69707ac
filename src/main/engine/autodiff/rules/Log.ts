import type { GradRule } from '../rule.js';

// dX = dY / X
export const Log: GradRule = {
  opType: 'Log',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.div(ctx.GO(0)!, ctx.I(0)));
  },
};

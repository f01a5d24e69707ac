import type { GradRule } from '../rule.js';

// dA = unbroadcast(dY), dB = -unbroadcast(dY)
export const Sub: GradRule = {
  opType: 'Sub',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    if (ctx.needs(0)) ctx.GI(0, ctx.unbroadcast(g, ctx.shape(ctx.I(0))));
    if (ctx.needs(1)) ctx.GI(1, ctx.neg(ctx.unbroadcast(g, ctx.shape(ctx.I(1)))));
  },
};

import type { GradRule } from '../rule.js';

// dA = unbroadcast(dY / B), dB = unbroadcast(-dY · Y / B)
export const Div: GradRule = {
  opType: 'Div',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    if (ctx.needs(0)) ctx.GI(0, ctx.unbroadcast(ctx.div(g, ctx.I(1)), ctx.shape(ctx.I(0))));
    if (ctx.needs(1)) {
      const t = ctx.div(ctx.mul(g, ctx.O(0)), ctx.I(1));
      ctx.GI(1, ctx.neg(ctx.unbroadcast(t, ctx.shape(ctx.I(1)))));
    }
  },
};

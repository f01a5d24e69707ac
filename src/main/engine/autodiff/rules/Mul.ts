import type { GradRule } from '../rule.js';

// dA = unbroadcast(dY · B), dB = unbroadcast(dY · A)
export const Mul: GradRule = {
  opType: 'Mul',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    if (ctx.needs(0)) ctx.GI(0, ctx.unbroadcast(ctx.mul(g, ctx.I(1)), ctx.shape(ctx.I(0))));
    if (ctx.needs(1)) ctx.GI(1, ctx.unbroadcast(ctx.mul(g, ctx.I(0)), ctx.shape(ctx.I(1))));
  },
};

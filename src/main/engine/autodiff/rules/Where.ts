import type { GradRule } from '../rule.js';

// dA = unbroadcast(where(C, dY, 0)), dB = unbroadcast(where(C, 0, dY)); C gets none
export const Where: GradRule = {
  opType: 'Where',
  opsets: [9, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    const c = ctx.I(0);
    const zero = ctx.scalar(0, g);
    if (ctx.needs(1)) ctx.GI(1, ctx.unbroadcast(ctx.op1('Where', [c, g, zero]), ctx.shape(ctx.I(1))));
    if (ctx.needs(2)) ctx.GI(2, ctx.unbroadcast(ctx.op1('Where', [c, zero, g]), ctx.shape(ctx.I(2))));
  },
};

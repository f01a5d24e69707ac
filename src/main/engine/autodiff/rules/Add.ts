import type { GradRule } from '../rule.js';

// dA = unbroadcast(dY), dB = unbroadcast(dY)
export const Add: GradRule = {
  opType: 'Add',
  opsets: [7, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    for (const i of [0, 1]) if (ctx.needs(i)) ctx.GI(i, ctx.unbroadcast(g, ctx.shape(ctx.I(i))));
  },
};

import type { GradRule } from '../rule.js';

// dX = dY · 2/√π · exp(-X²)
export const Erf: GradRule = {
  opType: 'Erf',
  opsets: [9, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const e = ctx.op1('Exp', [ctx.neg(ctx.mul(x, x))]);
    ctx.GI(0, ctx.mul(ctx.GO(0)!, ctx.mul(e, ctx.scalar(2 / Math.sqrt(Math.PI), x))));
  },
};

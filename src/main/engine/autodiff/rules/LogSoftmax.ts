import type { GradRule } from '../rule.js';

// dX = dY - exp(Y) · Σ_axis dY   (opset 13+)
export const LogSoftmax: GradRule = {
  opType: 'LogSoftmax',
  opsets: [13, 99],
  kind: 'build',
  build(ctx) {
    const y = ctx.O(0);
    const r = ctx.rank(y);
    const a = ctx.attrInt('axis', -1);
    const axis = a < 0 ? a + r : a;
    const g = ctx.GO(0)!;
    const s = ctx.reduceSum(g, [axis], true);
    ctx.GI(0, ctx.sub(g, ctx.mul(ctx.op1('Exp', [y]), s)));
  },
};

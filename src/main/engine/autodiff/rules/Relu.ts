import type { GradRule } from '../rule.js';

// dX = dY where X > 0, else 0
export const Relu: GradRule = {
  opType: 'Relu',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const pos = ctx.op1('Greater', [x, ctx.scalar(0, x)]);
    ctx.GI(0, ctx.op1('Where', [pos, ctx.GO(0)!, ctx.scalar(0, x)]));
  },
};

import type { GradRule } from '../rule.js';

// dX = Concat(dY_0, dY_1, ...) along the split axis (zeros for outputs without a gradient)
export const Split: GradRule = {
  opType: 'Split',
  opsets: [2, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const r = ctx.rank(x);
    const a = ctx.attrInt('axis', 0);
    const axis = a < 0 ? a + r : a;
    const parts = ctx.node.outputs.map((_, i) => ctx.GOorZeros(i));
    ctx.GI(0, ctx.op1('Concat', parts, { axis }));
  },
};

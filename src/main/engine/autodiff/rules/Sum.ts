import type { GradRule } from '../rule.js';

// dX_i = unbroadcast(dY, shape(X_i))
export const Sum: GradRule = {
  opType: 'Sum',
  opsets: [8, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    ctx.node.inputs.forEach((name, i) => {
      if (ctx.needs(i)) ctx.GI(i, ctx.unbroadcast(g, ctx.shape(name)));
    });
  },
};

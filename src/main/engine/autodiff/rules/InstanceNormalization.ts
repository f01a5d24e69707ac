import { normalizeBackward, normalizeForward } from '../norm.js';
import type { GradRule } from '../rule.js';

// y = scale_c · x̂ + bias_c, x̂ normalised over the spatial axes of each (n, c)
// dx = norm-backward(dY · scale_c), dscale = Σ_{n,space} dY · x̂, dbias = Σ_{n,space} dY
export const InstanceNormalization: GradRule = {
  opType: 'InstanceNormalization',
  opsets: [6, 99],
  build(ctx) {
    const x = ctx.I(0);
    const xs = ctx.shape(x);
    const g = ctx.GO(0)!;
    const axes = Array.from({ length: xs.length - 2 }, (_, i) => i + 2);
    const eps = ctx.attrFloat('epsilon', 1e-5);
    const n = normalizeForward(ctx, x, axes, eps);
    if (ctx.needs(0)) {
      const scale = ctx.reshape(ctx.I(1), [1, xs[1], ...axes.map(() => 1)]);
      ctx.GI(0, normalizeBackward(ctx, ctx.mul(g, scale), n, axes));
    }
    if (ctx.needs(1)) ctx.GI(1, ctx.reduceSum(ctx.mul(g, n.xhat), [0, ...axes], false));
    if (ctx.needs(2)) ctx.GI(2, ctx.reduceSum(g, [0, ...axes], false));
  },
};

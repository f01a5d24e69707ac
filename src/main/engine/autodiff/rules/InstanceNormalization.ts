import { normalizeBackward, normalizeForward } from '../norm.js';
import type { GradRule } from '../rule.js';

// y = scale_c · x̂ + bias_c, x̂ normalised over the spatial axes of each (n, c)
// dx = norm-backward(dY · scale_c), dscale = Σ_{n,space} dY · x̂, dbias = Σ_{n,space} dY
// Exporters write GroupNorm as InstanceNormalization with unit scale and zero bias: then x̂ = Y
// and dY needs no scaling, which saves two full passes.
export const InstanceNormalization: GradRule = {
  opType: 'InstanceNormalization',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const xs = ctx.shape(x);
    const g = ctx.GO(0)!;
    const axes = Array.from({ length: xs.length - 2 }, (_, i) => i + 2);
    const eps = ctx.attrFloat('epsilon', 1e-5);
    const scale = ctx.constInput(1);
    const bias = ctx.constInput(2);
    const identityAffine = !!scale && scale.every((v) => v === 1) && !!bias && bias.every((v) => v === 0);
    const n = normalizeForward(ctx, x, axes, eps, identityAffine ? ctx.O(0) : undefined);
    if (ctx.needs(0)) {
      const gx = identityAffine ? g : ctx.mul(g, ctx.reshape(ctx.I(1), [1, xs[1], ...axes.map(() => 1)]));
      ctx.GI(0, normalizeBackward(ctx, gx, n, axes));
    }
    if (ctx.needs(1)) ctx.GI(1, ctx.reduceSum(ctx.mul(g, n.xhat), [0, ...axes], false));
    if (ctx.needs(2)) ctx.GI(2, ctx.reduceSum(g, [0, ...axes], false));
  },
};

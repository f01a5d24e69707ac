import { normalizeBackward, normalizeForward } from '../norm.js';
import type { GradRule } from '../rule.js';

// y = scale · x̂ + bias, x̂ normalised over axes [axis, rank)
// dx = norm-backward(dY · scale), dscale = unbroadcast(dY · x̂), dbias = unbroadcast(dY)
export const LayerNormalization: GradRule = {
  opType: 'LayerNormalization',
  opsets: [17, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const r = ctx.rank(x);
    const a = ctx.attrInt('axis', -1);
    const axis = a < 0 ? a + r : a;
    const axes = Array.from({ length: r - axis }, (_, i) => i + axis);
    const g = ctx.GO(0)!;
    const n = normalizeForward(ctx, x, axes, ctx.attrFloat('epsilon', 1e-5));
    if (ctx.needs(0)) ctx.GI(0, normalizeBackward(ctx, ctx.mul(g, ctx.I(1)), n, axes));
    if (ctx.needs(1)) ctx.GI(1, ctx.unbroadcast(ctx.mul(g, n.xhat), ctx.shape(ctx.I(1))));
    if (ctx.I(2) && ctx.needs(2)) ctx.GI(2, ctx.unbroadcast(g, ctx.shape(ctx.I(2))));
  },
};

import { normalizeBackward, normalizeForward } from '../norm.js';
import type { GradRule } from '../rule.js';

// x viewed as [N, G, C/G·space] and normalised over the last axis; y = scale·x̂ + bias with
// scale/bias per group (opset 18, shape [G]) or per channel (opset 21, shape [C]).
export const GroupNormalization: GradRule = {
  opType: 'GroupNormalization',
  opsets: [18, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const xs = ctx.shape(x);
    const N = xs[0];
    const C = xs[1];
    const G = ctx.attrInt('num_groups', 1);
    const space = xs.slice(2).reduce((p, q) => p * q, 1);
    const g = ctx.GO(0)!;
    const perGroup = ctx.shape(ctx.I(1))[0] === G && G !== C;
    const xg = ctx.reshape(x, [N, G, (C / G) * space]);
    const n = normalizeForward(ctx, xg, [2], ctx.attrFloat('epsilon', 1e-5));
    const xhat = ctx.reshape(n.xhat, xs);
    const bshape = [1, C, ...xs.slice(2).map(() => 1)];
    const channelParam = (p: string) => (perGroup ? ctx.reshape(ctx.expand(ctx.reshape(p, [G, 1]), [G, C / G]), bshape) : ctx.reshape(p, bshape));
    const spaceAxes = xs.slice(2).map((_, i) => i + 2);
    const perChannelToParam = (t: string) => (perGroup ? ctx.reduceSum(ctx.reshape(t, [G, C / G]), [1], false) : t);
    if (ctx.needs(0)) {
      const gx = ctx.reshape(ctx.mul(g, channelParam(ctx.I(1))), [N, G, (C / G) * space]);
      ctx.GI(0, ctx.reshape(normalizeBackward(ctx, gx, n, [2]), xs));
    }
    if (ctx.needs(1)) ctx.GI(1, perChannelToParam(ctx.reduceSum(ctx.mul(g, xhat), [0, ...spaceAxes], false)));
    if (ctx.needs(2)) ctx.GI(2, perChannelToParam(ctx.reduceSum(g, [0, ...spaceAxes], false)));
  },
};

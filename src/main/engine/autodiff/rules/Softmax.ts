import type { GradRule } from '../rule.js';

// dX = Y · (dY - Σ_axis(dY · Y))   (opset 13+: softmax over one axis)
// Attention (Y only feeds O = Y·V over the last axis): Σ_j dY_ij Y_ij = Σ_k dO_ik O_ik, so the
// row sums come from the small [N, d] output instead of the [N, N] probabilities (FlashAttention's D).
export const Softmax: GradRule = {
  opType: 'Softmax',
  opsets: [13, 99],
  kind: 'build',
  build(ctx) {
    const y = ctx.O(0);
    const axis = normalize(ctx.attrInt('axis', -1), ctx.rank(y));
    const g = ctx.GO(0)!;
    const users = ctx.consumers(y);
    const attention = axis === ctx.rank(y) - 1 && users.length === 1 && users[0].opType === 'MatMul' && users[0].inputs[0] === y && users[0].inputs[1] !== y;
    const dO = attention ? ctx.gradOf(users[0].outputs[0]) : null;
    const s = dO && ctx.rank(dO) === ctx.rank(y) ? ctx.reduceSum(ctx.mul(dO, users[0].outputs[0]), [axis], true) : ctx.reduceSum(ctx.mul(g, y), [axis], true);
    ctx.GI(0, ctx.mul(y, ctx.sub(g, s)));
  },
};

function normalize(a: number, r: number): number {
  return a < 0 ? a + r : a;
}

import type { RuleContext } from '../context.js';
import type { GradRule } from '../rule.js';

/** Swaps the last two axes. */
export function swapLast(ctx: RuleContext, x: string): string {
  const r = ctx.rank(x);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return ctx.transpose(x, perm);
}

// dA = dY · Bᵀ, dB = Aᵀ · dY (batch axes broadcast, then summed back; 1-D operands promoted).
// A 2-D B (a weight) is read transposed by Gemm (transB) rather than through a Transpose node:
// ONNX Runtime would fold Transpose(weight) into a transposed copy of every weight.
export const MatMul: GradRule = {
  opType: 'MatMul',
  opsets: [9, 99],
  kind: 'build',
  build(ctx) {
    const a = ctx.I(0);
    const b = ctx.I(1);
    const sa = ctx.shape(a);
    const sb = ctx.shape(b);
    const a2 = sa.length === 1 ? ctx.reshape(a, [1, sa[0]]) : a;
    const b2 = sb.length === 1 ? ctx.reshape(b, [sb[0], 1]) : b;
    const M = ctx.shape(a2)[ctx.rank(a2) - 2];
    const K = ctx.shape(a2)[ctx.rank(a2) - 1];
    const N = ctx.shape(b2)[ctx.rank(b2) - 1];
    const gShape = ctx.shape(ctx.GO(0)!);
    const batch = sa.length === 1 || sb.length === 1 ? gShape.slice(0, gShape.length - (sa.length === 1 && sb.length === 1 ? 0 : 1)) : gShape.slice(0, -2);
    const g = ctx.reshape(ctx.GO(0)!, [...(sa.length === 1 && sb.length === 1 ? [] : batch), M, N]);
    const rows = ctx
      .shape(g)
      .slice(0, -1)
      .reduce((p, q) => p * q, 1);
    if (ctx.needs(0)) {
      let d: string;
      if (ctx.rank(b2) === 2) {
        d = ctx.reshape(ctx.op1('Gemm', [ctx.reshape(g, [rows, N]), b2], { transB: 1 }), [...ctx.shape(g).slice(0, -1), K]);
      } else {
        d = ctx.op1('MatMul', [g, swapLast(ctx, b2)]);
      }
      ctx.GI(0, ctx.reshape(ctx.unbroadcast(d, ctx.shape(a2)), sa));
    }
    if (ctx.needs(1)) {
      let d: string;
      if (ctx.rank(b2) === 2 && ctx.rank(a2) > 2) {
        // One large GEMM instead of a batched product summed afterwards.
        const af = ctx.reshape(a2, [
          ctx
            .shape(a2)
            .slice(0, -1)
            .reduce((p, q) => p * q, 1),
          K,
        ]);
        const gf = ctx.reshape(g, [rows, N]);
        d = ctx.op1('Gemm', [af, gf], { transA: 1 });
      } else {
        d = ctx.unbroadcast(ctx.op1('MatMul', [swapLast(ctx, a2), g]), ctx.shape(b2));
      }
      ctx.GI(1, ctx.reshape(d, sb));
    }
  },
};

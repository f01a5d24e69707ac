import type { GradRule } from '../rule.js';

// Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B
// dA' = α·dY·B'ᵀ, dB' = α·A'ᵀ·dY, dC = unbroadcast(β·dY); transposed operands get transposed gradients.
export const Gemm: GradRule = {
  opType: 'Gemm',
  opsets: [11, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    const a = ctx.I(0);
    const b = ctx.I(1);
    const alpha = ctx.attrFloat('alpha', 1);
    const beta = ctx.attrFloat('beta', 1);
    const ta = ctx.attrInt('transA', 0);
    const tb = ctx.attrInt('transB', 0);
    const gemm = (x: string, y: string, tx: number, ty: number) => ctx.op1('Gemm', [x, y], { alpha, transA: tx, transB: ty });
    if (ctx.needs(0)) {
      // transA=0: dA = dY·B'ᵀ ; transA=1: dA = B'·dYᵀ
      const d = ta === 0 ? gemm(g, b, 0, tb ? 0 : 1) : gemm(b, g, tb ? 1 : 0, 1);
      ctx.GI(0, d);
    }
    if (ctx.needs(1)) {
      // transB=0: dB = A'ᵀ·dY ; transB=1: dB = dYᵀ·A'
      const d = tb === 0 ? gemm(a, g, ta ? 0 : 1, 0) : gemm(g, a, 1, ta ? 1 : 0);
      ctx.GI(1, d);
    }
    if (ctx.I(2) && ctx.needs(2)) {
      const scaled = beta === 1 ? g : ctx.mul(g, ctx.scalar(beta, g));
      ctx.GI(2, ctx.unbroadcast(scaled, ctx.shape(ctx.I(2))));
    }
  },
};

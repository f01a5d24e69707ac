import type { GradRule } from '../rule.js';

// dX = Transpose(dY, perm⁻¹)
export const Transpose: GradRule = {
  opType: 'Transpose',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    const r = ctx.rank(ctx.I(0));
    const perm = ctx.attrInts(
      'perm',
      Array.from({ length: r }, (_, i) => r - 1 - i),
    );
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    ctx.GI(0, ctx.transpose(ctx.GO(0)!, inv));
  },
};

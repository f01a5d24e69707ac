import type { GradRule } from '../rule.js';

// dX_i = dY[..., offset_i : offset_i + size_i, ...] along the concat axis
export const Concat: GradRule = {
  opType: 'Concat',
  opsets: [4, 99],
  kind: 'build',
  build(ctx) {
    const g = ctx.GO(0)!;
    const r = ctx.rank(g);
    const a = ctx.attrInt('axis', 0);
    const axis = a < 0 ? a + r : a;
    const sizes = ctx.node.inputs.map((n) => ctx.shape(n)[axis]);
    const needed = ctx.node.inputs.map((_, i) => ctx.needs(i));
    const count = needed.filter(Boolean).length;
    if (count > 1) {
      const parts = ctx.op('Split', [g, ctx.ints(sizes)], { axis }, sizes.length);
      parts.forEach((p, i) => needed[i] && ctx.GI(i, p));
      return;
    }
    let offset = 0;
    sizes.forEach((size, i) => {
      if (needed[i]) {
        ctx.GI(i, ctx.op1('Slice', [g, ctx.ints([offset]), ctx.ints([offset + size]), ctx.ints([axis])]));
      }
      offset += size;
    });
  },
};

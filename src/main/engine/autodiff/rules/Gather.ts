import type { GradRule } from '../rule.js';

// dData[o, d, i] = Σ_k [idx_k = d] · dY[o, k, i]. Repeated indices accumulate.
// Opset 16+: ScatterND with reduction 'add' into zeros (memory O(data)). Older opsets: a one-hot
// matrix product (memory O(indices × axis)), fine for small gathers. Indices get no gradient.
export const Gather: GradRule = {
  opType: 'Gather',
  opsets: [11, 99],
  kind: 'build',
  build(ctx) {
    if (!ctx.needs(0)) return;
    const data = ctx.I(0);
    const ds = ctx.shape(data);
    const r = ds.length;
    const a = ctx.attrInt('axis', 0);
    const axis = a < 0 ? a + r : a;
    const idxShape = ctx.shape(ctx.I(1));
    const K = idxShape.reduce((p, q) => p * q, 1);
    const D = ds[axis];
    const outer = ds.slice(0, axis).reduce((p, q) => p * q, 1);
    const inner = ds.slice(axis + 1).reduce((p, q) => p * q, 1);
    const g3 = ctx.reshape(ctx.GO(0)!, [outer, K, inner]);
    if (ctx.opset >= 16 && K * D > 1 << 16) {
      // [K, outer, inner] scattered (with addition) into [D, outer, inner]
      const upd = ctx.transpose(g3, [1, 0, 2]);
      const idx = ctx.reshape(ctx.I(1), [K, 1]);
      const zero = ctx.b.constant(ctx.prefix, [0], [], 'int64');
      const wrapped = ctx.op1('Where', [ctx.op1('Less', [idx, zero]), ctx.add(idx, ctx.b.constant(ctx.prefix, [D], [], 'int64')), idx]);
      const scattered = ctx.op1('ScatterND', [ctx.zeros([D, outer, inner], ctx.dtype(data)), wrapped, upd], { reduction: 'add' });
      ctx.GI(0, ctx.reshape(ctx.transpose(scattered, [1, 0, 2]), ds));
      return;
    }
    const onehot = ctx.indexMask(ctx.reshape(ctx.I(1), [K, 1]), D, 1, ctx.dtype(data)); // [K, D]
    const d3 = ctx.op1('MatMul', [ctx.transpose(onehot, [1, 0]), g3]); // [outer, D, inner]
    ctx.GI(0, ctx.reshape(d3, ds));
  },
};

import type { GradRule } from '../rule.js';

// dData[o, d, i] = Σ_k [idx_k = d] · dY[o, k, i]: a one-hot matrix product, which accumulates
// repeated indices without ScatterND's reduction (absent before opset 16). Indices get no gradient.
export const Gather: GradRule = {
  opType: 'Gather',
  opsets: [11, 99],
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
    const idxCol = ctx.reshape(ctx.I(1), [K, 1]);
    const onehot = ctx.indexMask(idxCol, D, 1, ctx.dtype(data)); // [K, D]
    const g3 = ctx.reshape(ctx.GO(0)!, [outer, K, inner]);
    const oh = ctx.transpose(onehot, [1, 0]); // [D, K]
    const d3 = ctx.op1('MatMul', [oh, g3]); // [outer, D, inner]
    ctx.GI(0, ctx.reshape(d3, ds));
  },
};

import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';
import { shapeError } from './shape-helpers.js';

// shape: [M, N] from op(A) [M, K] and op(B) [K, N], op = transpose when transA/transB
export const Gemm: OpDef = {
  opType: 'Gemm',
  infer(ctx) {
    const { node } = ctx;
    const a = ctx.need(0).dims;
    const b = ctx.need(1).dims;
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    const m = ta ? a[1] : a[0];
    const ka = ta ? a[0] : a[1];
    const kb = tb ? b[1] : b[0];
    const n = tb ? b[0] : b[1];
    if (ka !== kb) throw shapeError(node, `inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
    return ctx.one([m, n]);
  },
};

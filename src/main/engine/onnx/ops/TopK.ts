import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';
import { normAxis } from './shape-helpers.js';

// shape: X's dims with the axis cut to k, for the values and for the int64 indices
export const TopK: OpDef = {
  opType: 'TopK',
  infer(ctx) {
    const x = ctx.need(0);
    const k = ctx.constInts(1, 'k')![0];
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', -1), x.dims.length);
    const out = x.dims.map((d, i) => (i === axis ? k : d));
    return [
      { dtype: x.dtype, dims: out },
      { dtype: 'int64', dims: out },
    ];
  },
};

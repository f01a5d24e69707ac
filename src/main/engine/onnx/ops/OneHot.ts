import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';

// shape: indices' dims with `depth` inserted at axis; type: that of `values`
export const OneHot: OpDef = {
  opType: 'OneHot',
  infer(ctx) {
    const id = ctx.need(0).dims;
    const axis = attrInt(ctx.node, 'axis', -1);
    const rank = id.length + 1;
    const a = axis < 0 ? axis + rank : axis;
    const depth = ctx.constInts(1, 'depth')![0];
    const out = [...id.slice(0, a), depth, ...id.slice(a)];
    return [{ dtype: ctx.need(2).dtype, dims: out }];
  },
};

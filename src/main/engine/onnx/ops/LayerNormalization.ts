import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';
import { normAxis } from './shape-helpers.js';

// shape: Y = X; the optional Mean and InvStdDev are float32, X's dims up to axis then 1s
export const LayerNormalization: OpDef = {
  opType: 'LayerNormalization',
  infer(ctx) {
    const x = ctx.need(0);
    const xd = x.dims;
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', -1), xd.length);
    const stat = xd.map((d, i) => (i < axis ? d : 1));
    return ctx.node.outputs.map((_, i) => ({ dtype: i === 0 ? x.dtype : 'float32', dims: i === 0 ? xd : stat }));
  },
};

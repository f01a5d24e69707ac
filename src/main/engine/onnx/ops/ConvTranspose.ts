import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';
import { convSpatial } from './shape-helpers.js';

// shape: [N, W[1] · group, spatial...] with output_shape, or strides, output_padding and pads
export const ConvTranspose: OpDef = {
  opType: 'ConvTranspose',
  infer(ctx) {
    const w = ctx.need(1).dims;
    const group = attrInt(ctx.node, 'group', 1);
    return ctx.one(convSpatial(ctx.node, ctx.need(0).dims, w.slice(2), true, w[1] * group));
  },
};

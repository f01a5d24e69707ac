import type { OpDef } from './op.js';
import { convSpatial } from './shape-helpers.js';

// shape: [N, M, spatial...] with W [M, C/group, kernel...], strides, dilations and pads (or auto_pad)
export const Conv: OpDef = {
  opType: 'Conv',
  infer(ctx) {
    const w = ctx.need(1).dims;
    return ctx.one(convSpatial(ctx.node, ctx.need(0).dims, w.slice(2), false, w[0]));
  },
};

import type { OpDef } from './op.js';
import { shapeError } from './shape-helpers.js';

// shape: the constant `sizes`, else ⌊dims · scales⌋
export const Resize: OpDef = {
  opType: 'Resize',
  infer(ctx) {
    const { node } = ctx;
    const xd = ctx.need(0).dims;
    const sizes = node.inputs[3] ? ctx.constInts(3, 'sizes') : undefined;
    if (sizes && sizes.length) return ctx.one(sizes);
    const scales = node.inputs[2] ? ctx.constInts(2, 'scales') : undefined;
    if (!scales || scales.length !== xd.length) throw shapeError(node, 'needs constant scales or sizes');
    return ctx.one(xd.map((d, i) => Math.floor(d * scales[i])));
  },
};

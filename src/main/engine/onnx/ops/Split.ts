import { attrInt } from '../ir.js';
import { gatherStrided } from './fold-helpers.js';
import type { OpDef } from './op.js';
import { normAxis, shapeError, splitSizes } from './shape-helpers.js';

// shape: X's dims with the axis cut into `split` (or equal chunks); fold: the consecutive pieces
export const Split: OpDef = {
  opType: 'Split',
  infer(ctx) {
    const { node } = ctx;
    const x = ctx.need(0);
    const xd = x.dims;
    const axis = normAxis(node, attrInt(node, 'axis', 0), xd.length);
    const sizes = splitSizes(node, ctx.ins, ctx.opset, xd[axis]);
    if (sizes.reduce((a, b) => a + b, 0) !== xd[axis]) throw shapeError(node, `split sizes ${sizes.join(',')} do not add up to ${xd[axis]}`);
    return sizes.map((s) => {
      const d = [...xd];
      d[axis] = s;
      return { dtype: x.dtype, dims: d };
    });
  },
  fold(ctx) {
    const x = ctx.input(0);
    const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
    const info = ctx.ins.map((t) => (t ? { dtype: t.dtype, dims: t.dims, value: t } : undefined));
    const sizes = splitSizes(ctx.node, info, ctx.opset, x.dims[axis]);
    let offset = 0;
    return sizes.map((s, i) => {
      const start = x.dims.map(() => 0);
      start[axis] = offset;
      offset += s;
      return gatherStrided(
        x,
        ctx.out[i].dims,
        start,
        x.dims.map(() => 1),
      );
    });
  },
};

import { relabelFold } from './families.js';
import type { OpDef } from './op.js';
import { normAxis, shapeError, unsqueezeAxes } from './shape-helpers.js';

// shape: X's dims with a 1 inserted at each of `axes` (of the output rank); fold: same values
export const Unsqueeze: OpDef = {
  opType: 'Unsqueeze',
  infer(ctx) {
    const { node } = ctx;
    const xd = ctx.need(0).dims;
    const axes = unsqueezeAxes(node, ctx.ins, ctx.opset);
    if (!axes) throw shapeError(node, 'needs axes');
    const rank = xd.length + axes.length;
    const norm = new Set(axes.map((a) => normAxis(node, a, rank)));
    const out: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : xd[k++]);
    return ctx.one(out);
  },
  fold: relabelFold,
};

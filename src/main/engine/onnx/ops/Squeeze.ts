import { relabelFold } from './families.js';
import type { OpDef } from './op.js';
import { normAxis, shapeError, unsqueezeAxes } from './shape-helpers.js';

// shape: X's dims without `axes` (each of size 1; default: every 1); fold: same values
export const Squeeze: OpDef = {
  opType: 'Squeeze',
  infer(ctx) {
    const { node } = ctx;
    const xd = ctx.need(0).dims;
    const axes = unsqueezeAxes(node, ctx.ins, ctx.opset);
    const norm = axes ? new Set(axes.map((a) => normAxis(node, a, xd.length))) : new Set(xd.flatMap((d, i) => (d === 1 ? [i] : [])));
    for (const a of norm) if (xd[a] !== 1) throw shapeError(node, `cannot squeeze axis ${a} of size ${xd[a]}`);
    return ctx.one(xd.filter((_, i) => !norm.has(i)));
  },
  fold: relabelFold,
};

import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';

// shape: [end - start] (clamped to the rank). Its value comes from shapes alone, so specialisation
// fills it in itself (specialize.ts) rather than through a fold rule, which needs constant inputs.
export const Shape: OpDef = {
  opType: 'Shape',
  infer(ctx) {
    const r = ctx.need(0).dims.length;
    let start = attrInt(ctx.node, 'start', 0);
    let end = attrInt(ctx.node, 'end', r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = Math.min(Math.max(start, 0), r);
    end = Math.min(Math.max(end, 0), r);
    return ctx.one([Math.max(0, end - start)]);
  },
};

import { attrInts } from '../ir.js';
import type { OpDef } from './op.js';
import { normAxis } from './shape-helpers.js';

// shape: Y[a] = X[a] + pads_begin[a] + pads_end[a] over `axes` (default: all)
export const Pad: OpDef = {
  opType: 'Pad',
  infer(ctx) {
    const { node, opset } = ctx;
    const xd = ctx.need(0).dims;
    const pads = opset >= 11 ? ctx.constInts(1, 'pads')! : attrInts(node, 'pads');
    const axesIn = opset >= 18 && node.inputs[3] ? ctx.constInts(3, 'axes') : undefined;
    const axes = axesIn ? axesIn.map((a) => normAxis(node, a, xd.length)) : xd.map((_, i) => i);
    const out = [...xd];
    axes.forEach((a, i) => {
      out[a] += pads[i] + pads[i + axes.length];
    });
    return ctx.one(out);
  },
};

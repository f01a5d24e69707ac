import { attrInt, numel } from '../ir.js';
import { relabelFold } from './families.js';
import type { OpDef } from './op.js';

// shape: [Π dims[:axis], Π dims[axis:]]; fold: same values
export const Flatten: OpDef = {
  opType: 'Flatten',
  infer(ctx) {
    const xd = ctx.need(0).dims;
    const axis = attrInt(ctx.node, 'axis', 1);
    const a = axis < 0 ? axis + xd.length : axis;
    return ctx.one([numel(xd.slice(0, a)), numel(xd.slice(a))]);
  },
  fold: relabelFold,
};

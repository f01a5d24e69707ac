import { attrInt } from '../ir.js';
import type { OpDef } from './op.js';

// shape: indices' dims but the last, then X's dims after batch_dims + the index depth
export const GatherND: OpDef = {
  opType: 'GatherND',
  infer(ctx) {
    const xd = ctx.need(0).dims;
    const id = ctx.need(1).dims;
    const batch = attrInt(ctx.node, 'batch_dims', 0);
    const last = id[id.length - 1];
    return ctx.one([...id.slice(0, -1), ...xd.slice(batch + last)]);
  },
};

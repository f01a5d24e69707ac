import type { OpDef } from './op.js';

// shape: Y = X, and the optional mask is a bool tensor shaped like X
export const Dropout: OpDef = {
  opType: 'Dropout',
  infer(ctx) {
    const dims = ctx.need(0).dims;
    return ctx.node.outputs.length > 1 ? [...ctx.one(dims), { dtype: 'bool', dims }] : ctx.one(dims);
  },
};

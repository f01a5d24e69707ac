import type { OpDef } from './op.js';

// shape: Y = indices' shape
export const GatherElements: OpDef = {
  opType: 'GatherElements',
  infer: (ctx) => ctx.one(ctx.need(1).dims),
};

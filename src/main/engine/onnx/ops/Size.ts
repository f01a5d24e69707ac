import type { OpDef } from './op.js';

// shape: a scalar. Like Shape's, its value comes from shapes alone (specialize.ts).
export const Size: OpDef = {
  opType: 'Size',
  infer: (ctx) => ctx.one([]),
};

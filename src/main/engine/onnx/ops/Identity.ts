import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = x
export const Identity: OpDef = {
  opType: 'Identity',
  infer: sameShape,
  fold: (ctx) => [{ ...ctx.input(0), dims: ctx.out[0].dims }],
};

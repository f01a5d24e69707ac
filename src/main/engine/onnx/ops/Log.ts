import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = ln(x)
export const Log: OpDef = {
  opType: 'Log',
  infer: sameShape,
  fold: unaryFold(Math.log),
};

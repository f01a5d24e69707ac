import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = exp(x)
export const Exp: OpDef = {
  opType: 'Exp',
  infer: sameShape,
  fold: unaryFold(Math.exp),
};

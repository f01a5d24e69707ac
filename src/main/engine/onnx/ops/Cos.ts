import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = cos(x)
export const Cos: OpDef = {
  opType: 'Cos',
  infer: sameShape,
  fold: unaryFold(Math.cos),
};

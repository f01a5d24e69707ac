import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = √x
export const Sqrt: OpDef = {
  opType: 'Sqrt',
  infer: sameShape,
  fold: unaryFold(Math.sqrt),
};

import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = tanh(x)
export const Tanh: OpDef = {
  opType: 'Tanh',
  infer: sameShape,
  fold: unaryFold(Math.tanh),
};

import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = |x|
export const Abs: OpDef = {
  opType: 'Abs',
  infer: sameShape,
  fold: unaryFold(Math.abs),
};

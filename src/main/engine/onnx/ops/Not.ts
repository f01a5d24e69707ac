import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = !x
export const Not: OpDef = {
  opType: 'Not',
  infer: sameShape,
  fold: unaryFold((a) => (a ? 0 : 1)),
};

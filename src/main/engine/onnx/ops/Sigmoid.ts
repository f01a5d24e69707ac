import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = 1 / (1 + exp(-x))
export const Sigmoid: OpDef = {
  opType: 'Sigmoid',
  infer: sameShape,
  fold: unaryFold((a) => 1 / (1 + Math.exp(-a))),
};

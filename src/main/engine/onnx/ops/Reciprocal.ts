import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = 1 / x
export const Reciprocal: OpDef = {
  opType: 'Reciprocal',
  infer: sameShape,
  fold: unaryFold((a) => 1 / a),
};

import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = -x
export const Neg: OpDef = {
  opType: 'Neg',
  infer: sameShape,
  fold: unaryFold((a) => -a),
};

import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = sin(x)
export const Sin: OpDef = {
  opType: 'Sin',
  infer: sameShape,
  fold: unaryFold(Math.sin),
};

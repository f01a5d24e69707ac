import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = ⌊x⌋
export const Floor: OpDef = {
  opType: 'Floor',
  infer: sameShape,
  fold: unaryFold(Math.floor),
};

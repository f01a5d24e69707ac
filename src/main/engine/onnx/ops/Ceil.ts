import { sameShape, unaryFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = ⌈x⌉
export const Ceil: OpDef = {
  opType: 'Ceil',
  infer: sameShape,
  fold: unaryFold(Math.ceil),
};

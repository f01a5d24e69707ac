import { sameShape, unaryFold } from './families.js';
import { erf } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: Y = X; fold: y = erf(x)
export const Erf: OpDef = {
  opType: 'Erf',
  infer: sameShape,
  fold: unaryFold(erf),
};

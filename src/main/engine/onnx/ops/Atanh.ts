import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Atanh: OpDef = {
  opType: 'Atanh',
  infer: sameShape,
};

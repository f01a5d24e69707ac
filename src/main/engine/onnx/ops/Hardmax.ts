import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Hardmax: OpDef = {
  opType: 'Hardmax',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Tan: OpDef = {
  opType: 'Tan',
  infer: sameShape,
};

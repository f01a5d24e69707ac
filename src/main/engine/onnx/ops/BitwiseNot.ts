import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const BitwiseNot: OpDef = {
  opType: 'BitwiseNot',
  infer: sameShape,
};

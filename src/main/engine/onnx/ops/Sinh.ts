import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Sinh: OpDef = {
  opType: 'Sinh',
  infer: sameShape,
};

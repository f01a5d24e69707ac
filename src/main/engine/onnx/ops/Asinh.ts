import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Asinh: OpDef = {
  opType: 'Asinh',
  infer: sameShape,
};

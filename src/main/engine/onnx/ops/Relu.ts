import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Relu: OpDef = {
  opType: 'Relu',
  infer: sameShape,
};

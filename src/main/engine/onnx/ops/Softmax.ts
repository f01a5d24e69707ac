import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Softmax: OpDef = {
  opType: 'Softmax',
  infer: sameShape,
};

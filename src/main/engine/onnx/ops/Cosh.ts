import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Cosh: OpDef = {
  opType: 'Cosh',
  infer: sameShape,
};

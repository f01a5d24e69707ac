import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const CumSum: OpDef = {
  opType: 'CumSum',
  infer: sameShape,
};

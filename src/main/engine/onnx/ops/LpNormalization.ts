import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const LpNormalization: OpDef = {
  opType: 'LpNormalization',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const HardSigmoid: OpDef = {
  opType: 'HardSigmoid',
  infer: sameShape,
};

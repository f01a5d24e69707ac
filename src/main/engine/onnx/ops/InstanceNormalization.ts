import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const InstanceNormalization: OpDef = {
  opType: 'InstanceNormalization',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const GroupNormalization: OpDef = {
  opType: 'GroupNormalization',
  infer: sameShape,
};

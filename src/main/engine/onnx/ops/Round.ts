import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Round: OpDef = {
  opType: 'Round',
  infer: sameShape,
};

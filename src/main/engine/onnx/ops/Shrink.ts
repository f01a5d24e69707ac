import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Shrink: OpDef = {
  opType: 'Shrink',
  infer: sameShape,
};

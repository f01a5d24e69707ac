import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Atan: OpDef = {
  opType: 'Atan',
  infer: sameShape,
};

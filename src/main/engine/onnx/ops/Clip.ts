import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Clip: OpDef = {
  opType: 'Clip',
  infer: sameShape,
};

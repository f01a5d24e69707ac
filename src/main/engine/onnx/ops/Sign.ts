import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Sign: OpDef = {
  opType: 'Sign',
  infer: sameShape,
};

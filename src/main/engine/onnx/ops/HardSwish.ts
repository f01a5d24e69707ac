import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const HardSwish: OpDef = {
  opType: 'HardSwish',
  infer: sameShape,
};

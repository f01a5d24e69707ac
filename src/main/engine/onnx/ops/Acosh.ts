import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Acosh: OpDef = {
  opType: 'Acosh',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Acos: OpDef = {
  opType: 'Acos',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const IsNaN: OpDef = {
  opType: 'IsNaN',
  infer: sameShape,
};

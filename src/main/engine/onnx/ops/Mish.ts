import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Mish: OpDef = {
  opType: 'Mish',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Gelu: OpDef = {
  opType: 'Gelu',
  infer: sameShape,
};

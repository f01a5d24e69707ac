import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Celu: OpDef = {
  opType: 'Celu',
  infer: sameShape,
};

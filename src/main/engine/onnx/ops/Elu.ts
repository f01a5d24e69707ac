import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Elu: OpDef = {
  opType: 'Elu',
  infer: sameShape,
};

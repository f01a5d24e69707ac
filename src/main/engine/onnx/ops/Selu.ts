import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Selu: OpDef = {
  opType: 'Selu',
  infer: sameShape,
};

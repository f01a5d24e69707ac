import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Softplus: OpDef = {
  opType: 'Softplus',
  infer: sameShape,
};

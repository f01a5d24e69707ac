import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const ScatterND: OpDef = {
  opType: 'ScatterND',
  infer: sameShape,
};

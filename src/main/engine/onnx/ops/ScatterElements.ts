import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const ScatterElements: OpDef = {
  opType: 'ScatterElements',
  infer: sameShape,
};

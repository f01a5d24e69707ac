import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const IsInf: OpDef = {
  opType: 'IsInf',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const LogSoftmax: OpDef = {
  opType: 'LogSoftmax',
  infer: sameShape,
};

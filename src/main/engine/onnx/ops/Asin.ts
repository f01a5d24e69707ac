import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Asin: OpDef = {
  opType: 'Asin',
  infer: sameShape,
};

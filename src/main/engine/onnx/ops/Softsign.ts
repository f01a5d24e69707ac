import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const Softsign: OpDef = {
  opType: 'Softsign',
  infer: sameShape,
};

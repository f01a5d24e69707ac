import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const LeakyRelu: OpDef = {
  opType: 'LeakyRelu',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const CastLike: OpDef = {
  opType: 'CastLike',
  infer: sameShape,
};

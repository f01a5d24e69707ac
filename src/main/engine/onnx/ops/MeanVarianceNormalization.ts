import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const MeanVarianceNormalization: OpDef = {
  opType: 'MeanVarianceNormalization',
  infer: sameShape,
};

import { sameShape } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = X
export const ThresholdedRelu: OpDef = {
  opType: 'ThresholdedRelu',
  infer: sameShape,
};

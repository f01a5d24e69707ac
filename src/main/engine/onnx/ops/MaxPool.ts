import { poolInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: a window over the spatial dims (floor mode)
export const MaxPool: OpDef = {
  opType: 'MaxPool',
  infer: poolInfer,
};

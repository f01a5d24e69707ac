import { poolInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: a window over the spatial dims (floor mode)
export const AveragePool: OpDef = {
  opType: 'AveragePool',
  infer: poolInfer,
};

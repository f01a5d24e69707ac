import { argReduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the axis dropped (kept as 1 with keepdims); int64 indices
export const ArgMin: OpDef = {
  opType: 'ArgMin',
  infer: argReduceInfer,
};

import { reduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the reduced axes dropped (kept as 1 with keepdims)
export const ReduceLogSum: OpDef = {
  opType: 'ReduceLogSum',
  infer: reduceInfer,
};

import { reduceFold, reduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the reduced axes dropped (kept as 1 with keepdims); fold: y = min x over the axes
export const ReduceMin: OpDef = {
  opType: 'ReduceMin',
  infer: reduceInfer,
  fold: reduceFold(Infinity, Math.min),
};

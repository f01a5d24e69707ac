import { reduceFold, reduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the reduced axes dropped (kept as 1 with keepdims); fold: y = Σ x over the axes
export const ReduceSum: OpDef = {
  opType: 'ReduceSum',
  infer: reduceInfer,
  fold: reduceFold(0, (a, b) => a + b),
};

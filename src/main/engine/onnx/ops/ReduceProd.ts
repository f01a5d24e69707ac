import { reduceFold, reduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the reduced axes dropped (kept as 1 with keepdims); fold: y = Π x over the axes
export const ReduceProd: OpDef = {
  opType: 'ReduceProd',
  infer: reduceInfer,
  fold: reduceFold(1, (a, b) => a * b),
};

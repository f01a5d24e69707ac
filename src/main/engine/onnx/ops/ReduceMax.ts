import { reduceFold, reduceInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: the reduced axes dropped (kept as 1 with keepdims); fold: y = max x over the axes
export const ReduceMax: OpDef = {
  opType: 'ReduceMax',
  infer: reduceInfer,
  fold: reduceFold(-Infinity, Math.max),
};

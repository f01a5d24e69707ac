import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a · b
export const Mul: OpDef = {
  opType: 'Mul',
  infer: broadcastPair,
  fold: binaryFold((a, b) => a * b),
};

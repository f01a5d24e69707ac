import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a ^ b
export const Pow: OpDef = {
  opType: 'Pow',
  infer: broadcastPair,
  fold: binaryFold((a, b) => Math.pow(a, b)),
};

import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a + b
export const Add: OpDef = {
  opType: 'Add',
  infer: broadcastPair,
  fold: binaryFold((a, b) => a + b),
};

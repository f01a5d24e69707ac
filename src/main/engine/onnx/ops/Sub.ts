import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a - b
export const Sub: OpDef = {
  opType: 'Sub',
  infer: broadcastPair,
  fold: binaryFold((a, b) => a - b),
};

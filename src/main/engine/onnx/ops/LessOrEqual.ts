import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a <= b
export const LessOrEqual: OpDef = {
  opType: 'LessOrEqual',
  infer: broadcastPair,
  fold: binaryFold((a, b) => (a <= b ? 1 : 0)),
};

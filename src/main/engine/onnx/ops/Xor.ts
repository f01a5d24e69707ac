import { broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B)
export const Xor: OpDef = {
  opType: 'Xor',
  infer: broadcastPair,
};

import { broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B)
export const PRelu: OpDef = {
  opType: 'PRelu',
  infer: broadcastPair,
};

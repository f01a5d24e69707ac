import { broadcastAll } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(X0, X1, ...)
export const Mean: OpDef = {
  opType: 'Mean',
  infer: broadcastAll,
};

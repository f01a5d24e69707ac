import { broadcastAll } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(X0, X1, ...)
export const Sum: OpDef = {
  opType: 'Sum',
  infer: broadcastAll,
};

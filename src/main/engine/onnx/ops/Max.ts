import { broadcastAll, variadicFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(X0, X1, ...); fold: y = max(x0, x1, ...)
export const Max: OpDef = {
  opType: 'Max',
  infer: broadcastAll,
  fold: variadicFold((...a) => Math.max(...a)),
};

import { broadcastAll, variadicFold } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(X0, X1, ...); fold: y = min(x0, x1, ...)
export const Min: OpDef = {
  opType: 'Min',
  infer: broadcastAll,
  fold: variadicFold((...a) => Math.min(...a)),
};

import { binaryFold, broadcastPair } from './families.js';
import { isIntType } from './fold-helpers.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a / b, truncated toward zero for integer types
export const Div: OpDef = {
  opType: 'Div',
  infer: broadcastPair,
  fold(ctx) {
    const intDiv = isIntType(ctx.input(0).dtype);
    return binaryFold((a, b) => (intDiv ? Math.trunc(a / b) : a / b))(ctx);
  },
};

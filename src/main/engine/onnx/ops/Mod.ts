import { attrInt } from '../ir.js';
import { binaryFold, broadcastPair } from './families.js';
import type { OpDef } from './op.js';

// shape: Y = broadcast(A, B); fold: y = a mod b with the sign of b (fmod=1: of a, as C's fmod)
export const Mod: OpDef = {
  opType: 'Mod',
  infer: broadcastPair,
  fold(ctx) {
    const fmod = attrInt(ctx.node, 'fmod', 0);
    return binaryFold((a, b) => (fmod ? a % b : ((a % b) + b) % b))(ctx);
  },
};

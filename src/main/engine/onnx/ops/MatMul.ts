import type { OpDef } from './op.js';
import { matmulShape } from './shape-helpers.js';

// shape: [...broadcast(batch), M, N] from [..., M, K] x [..., K, N] (1-D operands promoted and dropped)
export const MatMul: OpDef = {
  opType: 'MatMul',
  infer: (ctx) => ctx.one(matmulShape(ctx.node, ctx.need(0).dims, ctx.need(1).dims)),
};

import type { GradRule } from '../rule.js';

// Inference-mode Dropout is the identity: dX = dY
export const Dropout: GradRule = {
  opType: 'Dropout',
  opsets: [12, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.GO(0)!);
  },
};

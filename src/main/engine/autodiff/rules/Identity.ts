import type { GradRule } from '../rule.js';

// dX = dY
export const Identity: GradRule = {
  opType: 'Identity',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    ctx.GI(0, ctx.GO(0)!);
  },
};

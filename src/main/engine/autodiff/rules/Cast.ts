import { dtypeCode, isFloat } from '../../onnx/dtypes.js';
import type { GradRule } from '../rule.js';

// float -> float: dX = Cast(dY, dtype(X)); casts to integers carry no gradient.
export const Cast: GradRule = {
  opType: 'Cast',
  opsets: [6, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    if (!isFloat(ctx.dtype(x)) || !isFloat(ctx.dtype(ctx.O(0)))) return;
    const g = ctx.GO(0)!;
    ctx.GI(0, ctx.dtype(g) === ctx.dtype(x) ? g : ctx.op1('Cast', [g], { to: dtypeCode(ctx.dtype(x)) }));
  },
};

import { dtypeCode } from '../../onnx/dtypes.js';
import type { GradRule } from '../rule.js';

// One axis: the gradient goes to the first maximum (as PyTorch's max and max-pool do):
//   dX = [j = ArgMax(X)] · dY.
// Several axes: dX = [X = max] · dY (ties each receive the full gradient).
export const ReduceMax: GradRule = {
  opType: 'ReduceMax',
  opsets: [1, 99],
  kind: 'build',
  build(ctx) {
    const x = ctx.I(0);
    const { xs, axes, kept } = ctx.reduction();
    const g = ctx.reshape(ctx.GO(0)!, kept);
    if (axes.length === 1) {
      const axis = axes[0];
      const arg = ctx.op1('ArgMax', [x], { axis, keepdims: 1, select_last_index: 0 });
      ctx.GI(0, ctx.mul(ctx.indexMask(arg, xs[axis], axis, ctx.dtype(x)), g));
      return;
    }
    const y = ctx.reshape(ctx.O(0), kept);
    const mask = ctx.op1('Cast', [ctx.op1('Equal', [x, y])], { to: dtypeCode(ctx.dtype(x)) });
    ctx.GI(0, ctx.mul(mask, g));
  },
};

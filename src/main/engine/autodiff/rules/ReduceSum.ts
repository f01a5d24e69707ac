import { REDUCE_AXES_INPUT_OPSET, reduceAxes } from '../../onnx/shape-infer.js';
import type { GradRule } from '../rule.js';

// dX = expand(dY with reduced axes kept, shape(X))
export const ReduceSum: GradRule = {
  opType: 'ReduceSum',
  opsets: [1, 99],
  build(ctx) {
    const x = ctx.I(0);
    const xs = ctx.shape(x);
    const info = ctx.node.inputs.map((n) => (n ? ctx.b.info.get(n) : undefined));
    const axes = reduceAxes(ctx.node, info, ctx.opset, REDUCE_AXES_INPUT_OPSET.ReduceSum, xs.length);
    const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
    ctx.GI(0, ctx.expand(ctx.reshape(ctx.GO(0)!, kept), xs));
  },
};

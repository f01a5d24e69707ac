/**
 * Rules shared by families of ops (elementwise, broadcasting, reductions, windows); each op's own
 * file registers them under its op type, with its own arithmetic where it folds.
 */
import { attrInt, attrInts, numel } from '../ir.js';
import { castValue, mapN, strides } from './fold-helpers.js';
import type { ConstVal, FoldContext, InferContext, OutInfo } from './op.js';
import { broadcastShapes, convSpatial, normAxis, REDUCE_AXES_INPUT_OPSET, reduceAxes, shapeError } from './shape-helpers.js';

/** Y has X's shape (elementwise and normalising ops). */
export function sameShape(ctx: InferContext): OutInfo[] {
  return ctx.one(ctx.need(0).dims);
}

/** Y = broadcast(A, B). */
export function broadcastPair(ctx: InferContext): OutInfo[] {
  return ctx.one(broadcastShapes(ctx.node, ctx.need(0).dims, ctx.need(1).dims));
}

/** Y = broadcast of every present input (variadic Sum, Mean, Max, Min). */
export function broadcastAll(ctx: InferContext): OutInfo[] {
  return ctx.one(broadcastShapes(ctx.node, ...ctx.ins.filter((t) => !!t).map((t) => t.dims)));
}

/** Folds y = f(x) elementwise. */
export function unaryFold(f: (a: number) => number): (ctx: FoldContext) => ConstVal[] {
  return (ctx) => [mapN(ctx.out[0].dims, [ctx.input(0)], f, ctx.out[0].dtype)];
}

/** Folds y = f(a, b) elementwise over broadcast inputs. */
export function binaryFold(f: (a: number, b: number) => number): (ctx: FoldContext) => ConstVal[] {
  return (ctx) => [mapN(ctx.out[0].dims, [ctx.input(0), ctx.input(1)], f, ctx.out[0].dtype)];
}

/** Folds y = f(x0, x1, ...) elementwise over every input (variadic Max, Min). */
export function variadicFold(f: (...xs: number[]) => number): (ctx: FoldContext) => ConstVal[] {
  return (ctx) => [
    mapN(
      ctx.out[0].dims,
      ctx.ins.map((_, i) => ctx.input(i)),
      f,
      ctx.out[0].dtype,
    ),
  ];
}

/** Folds ops that only relabel dims (Reshape, Flatten, Squeeze, Unsqueeze): same values, Y's dims. */
export function relabelFold(ctx: FoldContext): ConstVal[] {
  const x = ctx.input(0);
  return [{ dtype: x.dtype, dims: ctx.out[0].dims, v: x.v }];
}

/** Reductions: the reduced axes dropped, or kept as 1 with keepdims. */
export function reduceInfer(ctx: InferContext): OutInfo[] {
  const { node } = ctx;
  const xd = ctx.need(0).dims;
  const axes = new Set(reduceAxes(node, ctx.ins, ctx.opset, REDUCE_AXES_INPUT_OPSET[node.opType], xd.length));
  const keep = attrInt(node, 'keepdims', 1);
  const out: number[] = [];
  xd.forEach((d, i) => {
    if (!axes.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return ctx.one(out);
}

/** Folds a reduction that starts from `init` and combines with `f`. */
export function reduceFold(init: number, f: (acc: number, a: number) => number): (ctx: FoldContext) => ConstVal[] {
  return (ctx) => {
    const { node } = ctx;
    const x = ctx.input(0);
    const out0 = ctx.out[0];
    const info = ctx.ins.map((t) => (t ? { dtype: t.dtype, dims: t.dims, value: t } : undefined));
    const axes = new Set(reduceAxes(node, info, ctx.opset, REDUCE_AXES_INPUT_OPSET[node.opType], x.dims.length));
    const keptDims = x.dims.map((d, i) => (axes.has(i) ? 1 : d));
    const kStr = strides(keptDims);
    const inStr = strides(x.dims);
    const v = new Array<number>(numel(keptDims)).fill(init);
    for (let i = 0; i < x.v.length; i++) {
      let rem = i;
      let o = 0;
      for (let k = 0; k < x.dims.length; k++) {
        const c = Math.floor(rem / inStr[k]);
        rem -= c * inStr[k];
        if (!axes.has(k)) o += c * kStr[k];
      }
      v[o] = f(v[o], x.v[i]);
    }
    return [{ dtype: out0.dtype, dims: out0.dims, v: v.map((a) => castValue(a, out0.dtype)) }];
  };
}

/** ArgMax/ArgMin: the axis dropped, or kept as 1 with keepdims. */
export function argReduceInfer(ctx: InferContext): OutInfo[] {
  const xd = ctx.need(0).dims;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), xd.length);
  const keep = attrInt(ctx.node, 'keepdims', 1);
  return ctx.one(keep ? xd.map((d, i) => (i === axis ? 1 : d)) : xd.filter((_, i) => i !== axis));
}

/** MaxPool/AveragePool: a window over the spatial dims (floor mode); MaxPool's indices are int64. */
export function poolInfer(ctx: InferContext): OutInfo[] {
  const { node } = ctx;
  const k = attrInts(node, 'kernel_shape');
  const x = ctx.need(0);
  const ceil = attrInt(node, 'ceil_mode', 0);
  if (ceil) throw shapeError(node, 'ceil_mode pooling is not supported');
  return node.outputs.map((_, i) => ({ dtype: i === 0 ? x.dtype : 'int64', dims: convSpatial(node, x.dims, k, false, x.dims[1]) }));
}

/** GlobalAveragePool/GlobalMaxPool: every spatial dim becomes 1. */
export function globalPoolInfer(ctx: InferContext): OutInfo[] {
  const xd = ctx.need(0).dims;
  return ctx.one([xd[0], xd[1], ...xd.slice(2).map(() => 1)]);
}

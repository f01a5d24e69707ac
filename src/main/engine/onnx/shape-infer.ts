/**
 * Concrete shape inference: given every input's dtype and dimensions (and the values of small
 * constant inputs such as Reshape targets), the dtype and dimensions of every output. Covers the
 * ops of Stable Diffusion, CLIP and DINOv2 exports (opset 13-18) and the ops our gradient rules emit.
 */
import { AppError } from '../../shared/errors.js';
import type { DType } from './dtypes.js';
import { nodeOutputDtypes } from './dtype-infer.js';
import { type Node, attrInt, attrInts, attrString, numel } from './ir.js';

/** Values of small tensors as plain numbers (int64 included; bool as 0/1). */
export interface ConstVal {
  dtype: DType;
  dims: number[];
  v: number[];
}

export interface TensorInfo {
  dtype: DType;
  dims: number[];
  /** Known value (for small constant-foldable tensors). */
  value?: ConstVal;
}

export type Shape = number[];

function shapeError(node: Node, msg: string): AppError {
  return new AppError('SHAPE_ERROR', `node '${node.name}' (${node.opType}): ${msg}`);
}

export function broadcastShapes(node: Node, ...shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const v = s[k];
      if (v === 1) continue;
      if (d !== 1 && d !== v) {
        throw shapeError(node, `shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')} do not broadcast`);
      }
      d = v;
    }
    out.push(d);
  }
  return out;
}

export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw shapeError(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** A constant int list from an input, or an error naming what is missing. */
function constInts(node: Node, ins: (TensorInfo | undefined)[], index: number, what: string): number[] | undefined {
  const t = ins[index];
  if (!node.inputs[index] || !t) return undefined;
  if (!t.value) throw shapeError(node, `${what} (input ${index} '${node.inputs[index]}') must be a constant to infer shapes`);
  return t.value.v;
}

/** Reduction axes: an attribute before `inputFromOpset`, an optional input from then on. */
export function reduceAxes(node: Node, ins: (TensorInfo | undefined)[], opset: number, inputFromOpset: number, rank: number): number[] {
  let axes: number[] | undefined;
  if (opset >= inputFromOpset) axes = constInts(node, ins, 1, 'axes');
  else axes = node.attrs.axes ? attrInts(node, 'axes') : undefined;
  if (!axes || axes.length === 0) {
    const noop = node.attrs.noop_with_empty_axes ? attrInt(node, 'noop_with_empty_axes') : 0;
    return noop ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => normAxis(node, a, rank));
}

/** Opset from which each reduction takes `axes` as an input. */
export const REDUCE_AXES_INPUT_OPSET: Record<string, number> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
  ReduceL1: 18,
  ReduceL2: 18,
  ReduceLogSumExp: 18,
  ReduceSumSquare: 18,
  ReduceLogSum: 18,
};

function convSpatial(node: Node, x: Shape, kernel: Shape, transposed: boolean, outChannels: number): Shape {
  const nsp = x.length - 2;
  const strides = attrInts(node, 'strides', Array(nsp).fill(1));
  const dil = attrInts(node, 'dilations', Array(nsp).fill(1));
  const autoPad = node.attrs.auto_pad ? attrString(node, 'auto_pad') : 'NOTSET';
  let pads = attrInts(node, 'pads', Array(2 * nsp).fill(0));
  const out: number[] = [x[0], outChannels];
  if (!transposed) {
    for (let i = 0; i < nsp; i++) {
      const k = (kernel[i] - 1) * dil[i] + 1;
      let o: number;
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') o = Math.ceil(x[i + 2] / strides[i]);
      else if (autoPad === 'VALID') o = Math.floor((x[i + 2] - k) / strides[i]) + 1;
      else o = Math.floor((x[i + 2] + pads[i] + pads[i + nsp] - k) / strides[i]) + 1;
      if (o <= 0) throw shapeError(node, `input of spatial size ${x[i + 2]} is too small for kernel ${kernel[i]}`);
      out.push(o);
    }
    return out;
  }
  const outShape = node.attrs.output_shape ? attrInts(node, 'output_shape') : undefined;
  const outPad = attrInts(node, 'output_padding', Array(nsp).fill(0));
  if (outShape) return [...out, ...outShape.slice(-nsp)];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') pads = Array(2 * nsp).fill(0);
  for (let i = 0; i < nsp; i++) {
    const o =
      autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER'
        ? x[i + 2] * strides[i]
        : strides[i] * (x[i + 2] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + nsp];
    out.push(o);
  }
  return out;
}

function matmulShape(node: Node, a: Shape, b: Shape): Shape {
  if (a.length === 0 || b.length === 0) throw shapeError(node, 'MatMul inputs must not be scalars');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (k1 !== k2) throw shapeError(node, `inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
  const batch = broadcastShapes(node, a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch];
  if (a.length !== 1) out.push(a2[a2.length - 2]);
  if (b.length !== 1) out.push(b2[b2.length - 1]);
  return out;
}

/** Slice parameters normalised against `dims`: per axis start, end, step (clamped as ONNX does). */
export function sliceParams(
  node: Node,
  dims: Shape,
  starts: number[],
  ends: number[],
  axesIn: number[] | undefined,
  stepsIn: number[] | undefined,
): { axis: number; start: number; end: number; step: number; size: number }[] {
  const axes = axesIn ?? starts.map((_, i) => i);
  const steps = stepsIn ?? starts.map(() => 1);
  return axes.map((a, i) => {
    const axis = normAxis(node, a, dims.length);
    const d = dims[axis];
    const step = steps[i];
    if (step === 0) throw shapeError(node, 'slice step is 0');
    let start = starts[i];
    let end = ends[i];
    if (start < 0) start += d;
    if (end < 0) end += d;
    if (step > 0) {
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
    } else {
      start = Math.min(Math.max(start, -1), d - 1);
      end = Math.min(Math.max(end, -1), d - 1);
    }
    const size = step > 0 ? Math.max(0, Math.ceil((end - start) / step)) : Math.max(0, Math.ceil((start - end) / -step));
    return { axis, start, end, step, size };
  });
}

export function reshapeTarget(node: Node, input: Shape, target: number[]): Shape {
  const allowZero = node.attrs.allowzero ? attrInt(node, 'allowzero') : 0;
  const out = target.map((d, i) => (d === 0 && !allowZero ? input[i] : d));
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const known = out.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    if (known === 0 || numel(input) % known !== 0) {
      throw shapeError(node, `cannot reshape [${input.join(',')}] to [${target.join(',')}]`);
    }
    out[neg] = numel(input) / known;
  }
  if (numel(out) !== numel(input)) throw shapeError(node, `cannot reshape [${input.join(',')}] (${numel(input)} values) to [${target.join(',')}]`);
  return out;
}

export function splitSizes(node: Node, ins: (TensorInfo | undefined)[], opset: number, dim: number): number[] {
  let split: number[] | undefined;
  if (opset >= 13) split = node.inputs[1] ? constInts(node, ins, 1, 'split') : undefined;
  else if (node.attrs.split) split = attrInts(node, 'split');
  if (split) return split;
  const n = node.attrs.num_outputs ? attrInt(node, 'num_outputs') : node.outputs.length;
  const chunk = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

export function unsqueezeAxes(node: Node, ins: (TensorInfo | undefined)[], opset: number): number[] | undefined {
  return opset >= 13 ? (node.inputs[1] ? constInts(node, ins, 1, 'axes') : undefined) : node.attrs.axes ? attrInts(node, 'axes') : undefined;
}

/** Infers the outputs of one node; `ins[i]` is undefined for an omitted optional input. */
export function inferNode(node: Node, ins: (TensorInfo | undefined)[], opset: number): { dtype: DType; dims: Shape }[] {
  const dt = nodeOutputDtypes(node, (name) => ins[node.inputs.indexOf(name)]?.dtype);
  const need = (i: number): TensorInfo => {
    const t = ins[i];
    if (!t) throw shapeError(node, `input ${i} is missing`);
    return t;
  };
  const one = (dims: Shape, dtype: DType | undefined = dt[0]) => {
    if (!dtype) throw shapeError(node, 'cannot tell the output type');
    return [{ dtype, dims }];
  };
  switch (node.opType) {
    case 'Identity':
    case 'Neg':
    case 'Abs':
    case 'Exp':
    case 'Log':
    case 'Sqrt':
    case 'Reciprocal':
    case 'Sin':
    case 'Cos':
    case 'Tanh':
    case 'Erf':
    case 'Sigmoid':
    case 'Relu':
    case 'LeakyRelu':
    case 'Elu':
    case 'Gelu':
    case 'HardSigmoid':
    case 'Softplus':
    case 'Floor':
    case 'Ceil':
    case 'Round':
    case 'Sign':
    case 'Not':
    case 'IsNaN':
    case 'IsInf':
    case 'Softmax':
    case 'LogSoftmax':
    case 'Cast':
    case 'CastLike':
    case 'InstanceNormalization':
    case 'GroupNormalization':
    case 'CumSum':
    case 'Trilu':
    case 'ScatterElements':
    case 'ScatterND':
    case 'Tan':
    case 'Asin':
    case 'Acos':
    case 'Atan':
    case 'Sinh':
    case 'Cosh':
    case 'Asinh':
    case 'Acosh':
    case 'Atanh':
    case 'Selu':
    case 'Celu':
    case 'Softsign':
    case 'HardSwish':
    case 'Mish':
    case 'ThresholdedRelu':
    case 'Clip':
    case 'Shrink':
    case 'BitwiseNot':
    case 'Hardmax':
    case 'LpNormalization':
    case 'MeanVarianceNormalization':
      return one(need(0).dims);
    case 'Dropout':
      return node.outputs.length > 1 ? [...one(need(0).dims), { dtype: 'bool', dims: need(0).dims }] : one(need(0).dims);
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Mod':
    case 'Equal':
    case 'Less':
    case 'LessOrEqual':
    case 'Greater':
    case 'GreaterOrEqual':
    case 'And':
    case 'Or':
    case 'Xor':
    case 'PRelu':
      return one(broadcastShapes(node, need(0).dims, need(1).dims));
    case 'Max':
    case 'Min':
    case 'Sum':
    case 'Mean':
      return one(broadcastShapes(node, ...ins.filter((t): t is TensorInfo => !!t).map((t) => t.dims)));
    case 'Where':
      return one(broadcastShapes(node, need(0).dims, need(1).dims, need(2).dims));
    case 'MatMul':
      return one(matmulShape(node, need(0).dims, need(1).dims));
    case 'Gemm': {
      const a = need(0).dims;
      const b = need(1).dims;
      const ta = attrInt(node, 'transA', 0);
      const tb = attrInt(node, 'transB', 0);
      const m = ta ? a[1] : a[0];
      const ka = ta ? a[0] : a[1];
      const kb = tb ? b[1] : b[0];
      const n = tb ? b[0] : b[1];
      if (ka !== kb) throw shapeError(node, `inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
      return one([m, n]);
    }
    case 'Conv': {
      const w = need(1).dims;
      return one(convSpatial(node, need(0).dims, w.slice(2), false, w[0]));
    }
    case 'ConvTranspose': {
      const w = need(1).dims;
      const group = attrInt(node, 'group', 1);
      return one(convSpatial(node, need(0).dims, w.slice(2), true, w[1] * group));
    }
    case 'MaxPool':
    case 'AveragePool': {
      const k = attrInts(node, 'kernel_shape');
      const xd = need(0).dims;
      const ceil = attrInt(node, 'ceil_mode', 0);
      if (ceil) throw shapeError(node, 'ceil_mode pooling is not supported');
      return node.outputs.map((_, i) => ({ dtype: i === 0 ? need(0).dtype : 'int64', dims: convSpatial(node, xd, k, false, xd[1]) }));
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool': {
      const xd = need(0).dims;
      return one([xd[0], xd[1], ...xd.slice(2).map(() => 1)]);
    }
    case 'Resize': {
      const xd = need(0).dims;
      const sizes = node.inputs[3] ? constInts(node, ins, 3, 'sizes') : undefined;
      if (sizes && sizes.length) return one(sizes);
      const scales = node.inputs[2] ? constInts(node, ins, 2, 'scales') : undefined;
      if (!scales || scales.length !== xd.length) throw shapeError(node, 'needs constant scales or sizes');
      return one(xd.map((d, i) => Math.floor(d * scales[i])));
    }
    case 'Reshape': {
      const target = constInts(node, ins, 1, 'shape');
      return one(reshapeTarget(node, need(0).dims, target!));
    }
    case 'Flatten': {
      const xd = need(0).dims;
      const axis = attrInt(node, 'axis', 1);
      const a = axis < 0 ? axis + xd.length : axis;
      return one([numel(xd.slice(0, a)), numel(xd.slice(a))]);
    }
    case 'Transpose': {
      const xd = need(0).dims;
      const perm = node.attrs.perm ? attrInts(node, 'perm') : xd.map((_, i) => xd.length - 1 - i);
      return one(perm.map((p) => xd[p]));
    }
    case 'Concat': {
      const parts = ins.filter((t): t is TensorInfo => !!t);
      const rank = parts[0].dims.length;
      const axis = normAxis(node, attrInt(node, 'axis'), rank);
      const out = [...parts[0].dims];
      out[axis] = 0;
      for (const p of parts) {
        if (p.dims.length !== rank) throw shapeError(node, 'inputs differ in rank');
        p.dims.forEach((d, i) => {
          if (i !== axis && d !== out[i]) throw shapeError(node, `inputs differ in dimension ${i}`);
        });
        out[axis] += p.dims[axis];
      }
      return one(out);
    }
    case 'Split': {
      const xd = need(0).dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), xd.length);
      const sizes = splitSizes(node, ins, opset, xd[axis]);
      if (sizes.reduce((a, b) => a + b, 0) !== xd[axis]) throw shapeError(node, `split sizes ${sizes.join(',')} do not add up to ${xd[axis]}`);
      return sizes.map((s) => {
        const d = [...xd];
        d[axis] = s;
        return { dtype: need(0).dtype, dims: d };
      });
    }
    case 'Slice': {
      const xd = need(0).dims;
      let starts: number[];
      let ends: number[];
      let axes: number[] | undefined;
      let steps: number[] | undefined;
      if (opset >= 10) {
        starts = constInts(node, ins, 1, 'starts')!;
        ends = constInts(node, ins, 2, 'ends')!;
        axes = constInts(node, ins, 3, 'axes');
        steps = constInts(node, ins, 4, 'steps');
      } else {
        starts = attrInts(node, 'starts');
        ends = attrInts(node, 'ends');
        axes = node.attrs.axes ? attrInts(node, 'axes') : undefined;
      }
      const out = [...xd];
      for (const p of sliceParams(node, xd, starts, ends, axes, steps)) out[p.axis] = p.size;
      return one(out);
    }
    case 'Unsqueeze': {
      const xd = need(0).dims;
      const axes = unsqueezeAxes(node, ins, opset);
      if (!axes) throw shapeError(node, 'needs axes');
      const rank = xd.length + axes.length;
      const norm = new Set(axes.map((a) => normAxis(node, a, rank)));
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : xd[k++]);
      return one(out);
    }
    case 'Squeeze': {
      const xd = need(0).dims;
      const axes = unsqueezeAxes(node, ins, opset);
      const norm = axes ? new Set(axes.map((a) => normAxis(node, a, xd.length))) : new Set(xd.flatMap((d, i) => (d === 1 ? [i] : [])));
      for (const a of norm) if (xd[a] !== 1) throw shapeError(node, `cannot squeeze axis ${a} of size ${xd[a]}`);
      return one(xd.filter((_, i) => !norm.has(i)));
    }
    case 'Expand': {
      const target = constInts(node, ins, 1, 'shape')!;
      return one(broadcastShapes(node, need(0).dims, target));
    }
    case 'Tile': {
      const reps = constInts(node, ins, 1, 'repeats')!;
      return one(need(0).dims.map((d, i) => d * reps[i]));
    }
    case 'Gather': {
      const xd = need(0).dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), xd.length);
      return one([...xd.slice(0, axis), ...need(1).dims, ...xd.slice(axis + 1)]);
    }
    case 'GatherElements':
      return one(need(1).dims);
    case 'GatherND': {
      const xd = need(0).dims;
      const id = need(1).dims;
      const batch = attrInt(node, 'batch_dims', 0);
      const last = id[id.length - 1];
      return one([...id.slice(0, -1), ...xd.slice(batch + last)]);
    }
    case 'Shape': {
      const r = need(0).dims.length;
      let start = attrInt(node, 'start', 0);
      let end = attrInt(node, 'end', r);
      if (start < 0) start += r;
      if (end < 0) end += r;
      start = Math.min(Math.max(start, 0), r);
      end = Math.min(Math.max(end, 0), r);
      return one([Math.max(0, end - start)]);
    }
    case 'Size':
      return one([]);
    case 'Constant': {
      const v = node.attrs.value;
      if (v && v.type === 'tensor') return one(v.value.dims);
      if (node.attrs.value_float || node.attrs.value_int) return one([]);
      const list = node.attrs.value_floats ?? node.attrs.value_ints;
      if (list && (list.type === 'floats' || list.type === 'ints')) return one([list.value.length]);
      throw shapeError(node, 'unsupported Constant form');
    }
    case 'ConstantOfShape':
      return one(constInts(node, ins, 0, 'shape')!);
    case 'Range': {
      const [s, l, d] = [0, 1, 2].map((i) => constInts(node, ins, i, 'range bound')![0]);
      return one([Math.max(0, Math.ceil((l - s) / d))]);
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL1':
    case 'ReduceL2':
    case 'ReduceLogSumExp':
    case 'ReduceSumSquare':
    case 'ReduceLogSum': {
      const xd = need(0).dims;
      const axes = new Set(reduceAxes(node, ins, opset, REDUCE_AXES_INPUT_OPSET[node.opType], xd.length));
      const keep = attrInt(node, 'keepdims', 1);
      const out: number[] = [];
      xd.forEach((d, i) => {
        if (!axes.has(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return one(out);
    }
    case 'ArgMax':
    case 'ArgMin': {
      const xd = need(0).dims;
      const axis = normAxis(node, attrInt(node, 'axis', 0), xd.length);
      const keep = attrInt(node, 'keepdims', 1);
      return one(keep ? xd.map((d, i) => (i === axis ? 1 : d)) : xd.filter((_, i) => i !== axis));
    }
    case 'LayerNormalization': {
      const xd = need(0).dims;
      const axis = normAxis(node, attrInt(node, 'axis', -1), xd.length);
      const stat = xd.map((d, i) => (i < axis ? d : 1));
      return node.outputs.map((_, i) => ({ dtype: i === 0 ? need(0).dtype : 'float32', dims: i === 0 ? xd : stat }));
    }
    case 'Pad': {
      const xd = need(0).dims;
      const pads = opset >= 11 ? constInts(node, ins, 1, 'pads')! : attrInts(node, 'pads');
      const axesIn = opset >= 18 && node.inputs[3] ? constInts(node, ins, 3, 'axes') : undefined;
      const axes = axesIn ? axesIn.map((a) => normAxis(node, a, xd.length)) : xd.map((_, i) => i);
      const out = [...xd];
      axes.forEach((a, i) => {
        out[a] += pads[i] + pads[i + axes.length];
      });
      return one(out);
    }
    case 'OneHot': {
      const id = need(0).dims;
      const axis = attrInt(node, 'axis', -1);
      const rank = id.length + 1;
      const a = axis < 0 ? axis + rank : axis;
      const depth = constInts(node, ins, 1, 'depth')![0];
      const out = [...id.slice(0, a), depth, ...id.slice(a)];
      return [{ dtype: need(2).dtype, dims: out }];
    }
    case 'TopK': {
      const xd = need(0).dims;
      const k = constInts(node, ins, 1, 'k')![0];
      const axis = normAxis(node, attrInt(node, 'axis', -1), xd.length);
      const out = xd.map((d, i) => (i === axis ? k : d));
      return [
        { dtype: need(0).dtype, dims: out },
        { dtype: 'int64', dims: out },
      ];
    }
    default:
      throw new AppError('ONNX_UNSUPPORTED', `node '${node.name}': shape inference does not know op ${node.opType}${node.domain ? ` (domain ${node.domain})` : ''}`);
  }
}

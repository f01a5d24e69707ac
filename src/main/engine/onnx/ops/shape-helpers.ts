/**
 * Shape arithmetic shared by the op rules (and by the gradient rules, through shape-infer.ts):
 * broadcasting, axes, reductions, windows, slices, reshapes and splits.
 */
import { AppError } from '../../../shared/errors.js';
import { type Node, attrInt, attrInts, attrString, numel } from '../ir.js';
import type { Shape, TensorInfo } from './op.js';

/** A shape error naming the node and its op. */
export function shapeError(node: Node, msg: string): AppError {
  return new AppError('SHAPE_ERROR', `node '${node.name}' (${node.opType}): ${msg}`);
}

/** The numpy broadcast of `shapes`, or an error naming the node. */
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

/** `axis` made non-negative for `rank`, or an error naming the node. */
export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw shapeError(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** A constant int list from an input, or an error naming what is missing. */
export function constInts(node: Node, ins: readonly (TensorInfo | undefined)[], index: number, what: string): number[] | undefined {
  const t = ins[index];
  if (!node.inputs[index] || !t) return undefined;
  if (!t.value) throw shapeError(node, `${what} (input ${index} '${node.inputs[index]}') must be a constant to infer shapes`);
  return t.value.v;
}

/** Reduction axes: an attribute before `inputFromOpset`, an optional input from then on. */
export function reduceAxes(node: Node, ins: readonly (TensorInfo | undefined)[], opset: number, inputFromOpset: number, rank: number): number[] {
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

/** Output dims of a convolution or pooling window over `x` (N, C, spatial...). */
export function convSpatial(node: Node, x: Shape, kernel: Shape, transposed: boolean, outChannels: number): Shape {
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
    const o = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? x[i + 2] * strides[i] : strides[i] * (x[i + 2] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + nsp];
    out.push(o);
  }
  return out;
}

/** Output dims of MatMul (numpy semantics: 1-D operands promoted, batch dims broadcast). */
export function matmulShape(node: Node, a: Shape, b: Shape): Shape {
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

/** Reshape's output dims (0 copies, -1 infers), or an error naming the node. */
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

/** Split's output sizes along its axis (input before opset 13 is an attribute; default: equal chunks). */
export function splitSizes(node: Node, ins: readonly (TensorInfo | undefined)[], opset: number, dim: number): number[] {
  let split: number[] | undefined;
  if (opset >= 13) split = node.inputs[1] ? constInts(node, ins, 1, 'split') : undefined;
  else if (node.attrs.split) split = attrInts(node, 'split');
  if (split) return split;
  const n = node.attrs.num_outputs ? attrInt(node, 'num_outputs') : node.outputs.length;
  const chunk = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

/** Squeeze/Unsqueeze axes: an attribute before opset 13, an optional input from then on. */
export function unsqueezeAxes(node: Node, ins: readonly (TensorInfo | undefined)[], opset: number): number[] | undefined {
  return opset >= 13 ? (node.inputs[1] ? constInts(node, ins, 1, 'axes') : undefined) : node.attrs.axes ? attrInts(node, 'axes') : undefined;
}

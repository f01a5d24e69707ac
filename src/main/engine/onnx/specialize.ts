/**
 * Specialises a graph to concrete input shapes: infers every tensor's dtype and dimensions,
 * folds shape-only (and other small constant) subgraphs into initializers, drops Constant nodes,
 * prunes what the outputs do not need, and records the concrete shapes as value_info. The result
 * is what gradient construction works on: every shape known, every Reshape target a constant.
 */
import { AppError } from '../../shared/errors.js';
import { allocTypedArray, type DType } from './dtypes.js';
import { constFromTensor, EVALUABLE, evalNode } from './constant-fold.js';
import { pruneDead, topoSort } from './graph-utils.js';
import { cloneModel, defaultOpset, type Model, numel, type TensorValue, tensorValueFromHost } from './ir.js';
import { type ConstVal, inferNode, type TensorInfo } from './shape-infer.js';

export interface SpecializeOptions {
  /** Largest tensor (elements) folded on the host. */
  maxFoldElements?: number;
  /** Graph outputs to keep (default: all). */
  outputs?: string[];
}

export interface Specialized {
  model: Model;
  /** dtype and dims of every tensor of the specialised graph. */
  info: Map<string, { dtype: DType; dims: number[] }>;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export function constToTensorValue(name: string, c: ConstVal): TensorValue {
  const data = allocTypedArray(c.dtype, c.v.length);
  if (data instanceof BigInt64Array) {
    // saturate: values at ±2^63 (INT64_MAX/MIN slice bounds read as doubles) must not wrap
    for (let i = 0; i < c.v.length; i++) {
      const v = c.v[i];
      data[i] = v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : BigInt(Math.trunc(v));
    }
  } else if (data instanceof BigUint64Array) {
    for (let i = 0; i < c.v.length; i++) data[i] = BigInt(Math.max(0, Math.trunc(c.v[i])));
  } else {
    for (let i = 0; i < c.v.length; i++) (data as Float32Array)[i] = c.v[i];
  }
  return tensorValueFromHost(name, { dtype: c.dtype, dims: c.dims, data });
}

/** Checks the given shapes against the declared inputs: every required input, right rank, static dims equal. */
export function checkInputShapes(model: Model, shapes: Record<string, number[]>): void {
  for (const input of model.graph.inputs) {
    const s = shapes[input.name];
    if (!s) throw new AppError('INVALID_ARGUMENT', `no shape given for graph input '${input.name}'`);
    if (input.shape) {
      if (input.shape.length !== s.length) {
        throw new AppError('SHAPE_ERROR', `input '${input.name}' has rank ${input.shape.length} ([${input.shape.join(', ')}]); got shape [${s.join(', ')}]`);
      }
      input.shape.forEach((d, i) => {
        if (typeof d === 'number' && d !== s[i]) {
          throw new AppError('SHAPE_ERROR', `input '${input.name}' is declared [${input.shape!.join(', ')}]; got [${s.join(', ')}] (dimension ${i} must be ${d})`);
        }
      });
    }
  }
  for (const name of Object.keys(shapes)) {
    if (!model.graph.inputs.some((i) => i.name === name)) {
      throw new AppError('INVALID_ARGUMENT', `'${name}' is not an input of the graph (inputs: ${model.graph.inputs.map((i) => i.name).join(', ')})`);
    }
  }
}

export function specialize(model: Model, inputShapes: Record<string, number[]>, options: SpecializeOptions = {}): Specialized {
  const maxFold = options.maxFoldElements ?? 65536;
  const m = cloneModel(model);
  const g = m.graph;
  if (options.outputs) {
    const keep = options.outputs.map((name) => {
      const o = g.outputs.find((x) => x.name === name);
      if (!o) throw new AppError('INVALID_ARGUMENT', `'${name}' is not an output of the graph (outputs: ${g.outputs.map((x) => x.name).join(', ')})`);
      return o;
    });
    g.outputs = keep;
  }
  pruneDead(g);
  checkInputShapes(m, inputShapes);
  const opset = defaultOpset(m);
  if (opset < 13) throw new AppError('ONNX_UNSUPPORTED', `${m.source}: opset ${opset} is not supported; export with opset 13 or newer`);

  const info = new Map<string, TensorInfo>();
  for (const i of g.inputs) info.set(i.name, { dtype: i.dtype, dims: [...inputShapes[i.name]] });
  for (const [name, t] of g.initializers) info.set(name, { dtype: t.dtype, dims: t.dims });
  const initValue = (name: string): ConstVal | undefined => {
    const t = g.initializers.get(name);
    if (!t || numel(t.dims) > maxFold || t.data.kind === 'strings') return undefined;
    const cached = info.get(name)!;
    cached.value ??= constFromTensor(t);
    return cached.value;
  };

  const folded = new Set<string>();
  for (const node of topoSort(g)) {
    if (node.domain && node.domain !== 'ai.onnx') {
      throw new AppError('ONNX_UNSUPPORTED', `node '${node.name}' uses op ${node.opType} of domain '${node.domain}'; only standard ONNX ops are supported`);
    }
    const ins: (TensorInfo | undefined)[] = node.inputs.map((name) => {
      if (!name) return undefined;
      const t = info.get(name);
      if (!t) throw new AppError('ONNX_INVALID', `node '${node.name}' reads '${name}', which nothing defines`);
      if (!t.value && g.initializers.has(name)) {
        // Small initializers carry their value so Reshape/Slice/Resize parameters are known.
        const v = initValue(name);
        if (v) return { ...t, value: v };
      }
      return t;
    });
    const outs = inferNode(node, ins, opset);
    let values: (ConstVal | null)[] | null = null;
    if (node.opType === 'Shape') {
      const dims = ins[0]!.dims;
      const r = dims.length;
      let start = node.attrs.start?.type === 'int' ? node.attrs.start.value : 0;
      let end = node.attrs.end?.type === 'int' ? node.attrs.end.value : r;
      if (start < 0) start += r;
      if (end < 0) end += r;
      start = Math.min(Math.max(start, 0), r);
      end = Math.min(Math.max(end, 0), r);
      values = [{ dtype: 'int64', dims: [Math.max(0, end - start)], v: dims.slice(start, end) }];
    } else if (node.opType === 'Size') {
      values = [{ dtype: 'int64', dims: [], v: [numel(ins[0]!.dims)] }];
    } else if (EVALUABLE.has(node.opType) && ins.every((t, i) => !node.inputs[i] || (t && (t.value || initValue(node.inputs[i])))) && outs.every((o) => numel(o.dims) <= maxFold)) {
      const cins = node.inputs.map((name, i) => (name ? (ins[i]!.value ?? initValue(name)) : undefined));
      values = evalNode(node, cins, outs, opset);
    }
    node.outputs.forEach((o, k) => {
      if (!o) return;
      const v = values?.[k] ?? undefined;
      info.set(o, { dtype: outs[k].dtype, dims: outs[k].dims, value: v });
    });
    if (values && values.every((v) => v)) folded.add(node.name);
  }

  // Replace folded nodes by initializers where something still reads their outputs.
  const kept = g.nodes.filter((n) => !folded.has(n.name));
  const needed = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of kept) for (const i of n.inputs) if (i) needed.add(i);
  for (const n of g.nodes) {
    if (!folded.has(n.name)) continue;
    for (const o of n.outputs) {
      if (!o || !needed.has(o)) continue;
      const attr = n.opType === 'Constant' ? n.attrs.value : undefined;
      // Constant tensors keep their own bytes; computed values are encoded from their numbers.
      g.initializers.set(o, attr && attr.type === 'tensor' ? { ...attr.value, name: o } : constToTensorValue(o, info.get(o)!.value!));
    }
  }
  g.nodes = kept;
  pruneDead(g);

  const outInfo = new Map<string, { dtype: DType; dims: number[] }>();
  for (const [k, v] of info) outInfo.set(k, { dtype: v.dtype, dims: v.dims });
  g.inputs = g.inputs.map((i) => ({ ...i, shape: [...inputShapes[i.name]] }));
  g.outputs = g.outputs.map((o) => ({ name: o.name, dtype: info.get(o.name)!.dtype, shape: [...info.get(o.name)!.dims] }));
  g.valueInfo = new Map();
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      const t = o ? info.get(o) : undefined;
      if (t && !g.outputs.some((x) => x.name === o)) g.valueInfo.set(o, { name: o, dtype: t.dtype, shape: [...t.dims] });
    }
  }
  return { model: m, info: outInfo };
}

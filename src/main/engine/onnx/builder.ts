/**
 * Emitting ONNX nodes with shapes inferred on the spot: the shared machinery of gradient rules
 * (autodiff/context.ts) and of the graphs the engine builds itself (ModelBuilder). Names are
 * deterministic (`<prefix>/<Op>_<n>`, n counted per prefix) so built graphs diff cleanly: a gradient
 * rule emitting one more node renames nothing outside its own `<node>_Grad/` prefix.
 */
import { AppError } from '../../shared/errors.js';
import { type DType, dtypeCode } from './dtypes.js';
import { type Attr, type Model, type Node, numel, type TensorValue } from './ir.js';
import { validateGraph } from './graph-utils.js';
import { type ConstVal, inferNode, type TensorInfo } from './shape-infer.js';
import { constToTensorValue } from './specialize.js';

export type AttrValue = number | number[] | string | TensorValue | Attr;

/** Nodes, initializers and the shape of every tensor emitted so far. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, TensorValue>();
  private used: Set<string>;
  /** Next index per name prefix: local counters keep one prefix's names independent of the others. */
  private counters = new Map<string, number>();

  constructor(
    readonly info: Map<string, TensorInfo>,
    readonly opset: number,
    usedNames: Iterable<string>,
  ) {
    this.used = new Set(usedNames);
  }

  /**
   * A builder for a subgraph body (Scan, Loop): it sees this builder's tensor shapes, shares its
   * names (a body's names never collide with the enclosing graph's) and collects its own nodes
   * and constants.
   */
  child(): GraphBuilder {
    const c = new GraphBuilder(this.info, this.opset, []);
    c.used = this.used;
    c.counters = this.counters;
    return c;
  }

  /**
   * Emits a node whose output shapes the caller states (ops shape inference does not know:
   * control flow, com.microsoft kernels).
   */
  opShaped(prefix: string, opType: string, inputs: string[], attrs: Record<string, AttrValue>, outs: { dtype: DType; dims: number[] }[], domain = ''): string[] {
    const name = this.unique(`${prefix}/${opType}_${this.next(prefix)}`);
    const outputs = outs.map((_, i) => this.unique(`${name}_out${i}`));
    this.nodes.push({ name, opType, domain, inputs, outputs, attrs: toAttrs(attrs), metadata: {} });
    outputs.forEach((o, i) => this.info.set(o, { dtype: outs[i].dtype, dims: [...outs[i].dims] }));
    return outputs;
  }

  private next(prefix: string): number {
    const id = this.counters.get(prefix) ?? 0;
    this.counters.set(prefix, id + 1);
    return id;
  }

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  shape(name: string): number[] {
    const t = this.info.get(name);
    if (!t) throw new Error(`graph builder: no shape known for '${name}'`);
    return t.dims;
  }

  dtype(name: string): DType {
    const t = this.info.get(name);
    if (!t) throw new Error(`graph builder: no dtype known for '${name}'`);
    return t.dtype;
  }

  /** Emits one node; returns its output names. Shapes of the outputs are inferred immediately. */
  op(prefix: string, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1): string[] {
    const name = this.unique(`${prefix}/${opType}_${this.next(prefix)}`);
    const outputs = Array.from({ length: nOut }, (_, i) => this.unique(`${name}_out${i}`));
    const node: Node = { name, opType, domain: '', inputs, outputs, attrs: toAttrs(attrs), metadata: {} };
    const ins = inputs.map((i) => (i ? this.info.get(i) : undefined));
    let outs;
    try {
      outs = inferNode(node, ins, this.opset);
    } catch (e) {
      throw new Error(`emitted node ${opType} under '${prefix}' is ill-formed: ${(e as Error).message}`, { cause: e });
    }
    outputs.forEach((o, i) => this.info.set(o, { dtype: outs[i].dtype, dims: outs[i].dims }));
    this.nodes.push(node);
    return outputs;
  }

  /** A constant initializer; small values are recorded so shape inference can read them. */
  constant(prefix: string, values: number[], dims: number[], dtype: DType = 'float32'): string {
    if (values.length !== numel(dims)) throw new Error(`constant of shape [${dims}] needs ${numel(dims)} values`);
    const name = this.unique(`${prefix}/const_${this.next(prefix)}`);
    const c: ConstVal = { dtype, dims, v: values };
    this.initializers.set(name, constToTensorValue(name, c));
    this.info.set(name, { dtype, dims, value: c });
    return name;
  }
}

export function toAttrs(attrs: Record<string, AttrValue>): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'string') out[k] = { type: 'string', value: v };
    else if (Array.isArray(v)) out[k] = { type: 'ints', value: v };
    else if (typeof v === 'number') out[k] = Number.isInteger(v) && !FLOAT_ATTRS.has(k) ? { type: 'int', value: v } : { type: 'float', value: v };
    else if ('type' in v) out[k] = v;
    else out[k] = { type: 'tensor', value: v };
  }
  return out;
}

const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'value_float', 'scale']);

/**
 * Emit helpers shared by gradient rules and model builders: each returns the name of the tensor
 * it produced and skips work that would be a no-op (reshape to the same shape, sum over no axes).
 */
export abstract class OpEmitter {
  abstract readonly b: GraphBuilder;
  abstract readonly prefix: string;

  get opset(): number {
    return this.b.opset;
  }

  shape(name: string): number[] {
    return this.b.shape(name);
  }

  dtype(name: string): DType {
    return this.b.dtype(name);
  }

  rank(name: string): number {
    return this.shape(name).length;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1): string[] {
    return this.b.op(this.prefix, opType, inputs, attrs, nOut);
  }

  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.op(opType, inputs, attrs)[0];
  }

  /** A float constant of the dtype of `like` (scalar by default). */
  scalar(value: number, like: string): string {
    return this.b.constant(this.prefix, [value], [], this.dtype(like));
  }

  ints(values: number[]): string {
    return this.b.constant(this.prefix, values, [values.length], 'int64');
  }

  floats(values: number[], dims: number[], dtype: DType = 'float32'): string {
    return this.b.constant(this.prefix, values, dims, dtype);
  }

  add(a: string, b: string): string {
    return this.op1('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op1('Sub', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op1('Mul', [a, b]);
  }

  div(a: string, b: string): string {
    return this.op1('Div', [a, b]);
  }

  neg(a: string): string {
    return this.op1('Neg', [a]);
  }

  reshape(x: string, dims: number[]): string {
    const s = this.shape(x);
    if (s.length === dims.length && s.every((d, i) => d === dims[i])) return x;
    return this.op1('Reshape', [x, this.ints(dims)]);
  }

  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op1('Transpose', [x], { perm });
  }

  /** Sum over `axes` (keepdims as given); no-op for no axes. */
  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    return this.op1('ReduceSum', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }

  /** Mean over `axes` (axes an attribute before opset 18, an input from then on). */
  reduceMean(x: string, axes: number[], keepdims = true): string {
    if (axes.length === 0) return x;
    if (this.opset >= 18) return this.op1('ReduceMean', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op1('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  /** Sums a broadcast gradient back to `target` dims (JAX's _unbroadcast). */
  unbroadcast(grad: string, target: number[]): string {
    const g = this.shape(grad);
    if (g.length === target.length && g.every((d, i) => d === target[i])) return grad;
    const lead = g.length - target.length;
    const axes: number[] = [];
    for (let i = 0; i < g.length; i++) {
      if (i < lead) axes.push(i);
      else if (target[i - lead] === 1 && g[i] !== 1) axes.push(i);
    }
    const summed = this.reduceSum(grad, axes, true);
    return this.reshape(summed, target);
  }

  /** Runtime zeros of a shape (ConstantOfShape, so large zeros cost no model bytes). */
  zeros(dims: number[], dtype: DType): string {
    const value = constToTensorValue('value', { dtype, dims: [1], v: [0] });
    if (dims.length === 0) return this.b.constant(this.prefix, [0], [], dtype);
    return this.op1('ConstantOfShape', [this.ints(dims)], { value });
  }

  /**
   * A 0/1 mask of dtype `dtype`: entry [.., j at `axis`, ..] is 1 where `idx` (int64, size 1 on
   * `axis`, broadcastable) equals j, for j in [0, depth). Negative indices count from the end.
   * Built from Equal against a constant range: ORT's OneHot lacks float64 kernels.
   */
  indexMask(idx: string, depth: number, axis: number, dtype: DType): string {
    const rank = this.rank(idx);
    const zero = this.b.constant(this.prefix, [0], [], 'int64');
    const wrapped = this.op1('Where', [this.op1('Less', [idx, zero]), this.add(idx, this.b.constant(this.prefix, [depth], [], 'int64')), idx]);
    const rangeDims = Array.from({ length: rank }, (_, i) => (i === axis ? depth : 1));
    const range = this.b.constant(
      this.prefix,
      Array.from({ length: depth }, (_, j) => j),
      rangeDims,
      'int64',
    );
    return this.op1('Cast', [this.op1('Equal', [wrapped, range])], { to: dtypeCode(dtype) });
  }

  /** Expands `x` (shape broadcastable) to `dims`. */
  expand(x: string, dims: number[]): string {
    const s = this.shape(x);
    if (s.length === dims.length && s.every((d, i) => d === dims[i])) return x;
    return this.op1('Expand', [x, this.ints(dims)]);
  }

  cast(x: string, to: DType): string {
    return this.dtype(x) === to ? x : this.op1('Cast', [x], { to: dtypeCode(to) });
  }
}

/**
 * Builds a self-contained ONNX model from scratch (the engine's own graphs: latent sampling,
 * matching, losses, CPM), with every shape known as it is built.
 */
export class ModelBuilder extends OpEmitter {
  readonly b: GraphBuilder;
  readonly prefix: string;
  private readonly inputs: { name: string; dtype: DType; dims: number[] }[] = [];
  private readonly outputs: { name: string; tensor: string }[] = [];

  constructor(
    readonly name: string,
    opset = 17,
  ) {
    super();
    this.b = new GraphBuilder(new Map(), opset, []);
    this.prefix = name;
  }

  input(name: string, dtype: DType, dims: number[]): string {
    if (this.inputs.some((i) => i.name === name)) throw new Error(`input '${name}' declared twice`);
    this.b.unique(name);
    this.b.info.set(name, { dtype, dims });
    this.inputs.push({ name, dtype, dims });
    return name;
  }

  /**
   * Inlines a specialised model's graph: its inputs are wired to `inputs` (input name -> tensor of
   * this builder), its nodes and initializers join this graph (names kept unless they collide),
   * and the tensors of its outputs are returned by output name.
   */
  inline(model: Model, inputs: Record<string, string>, info: Map<string, { dtype: DType; dims: number[] }>): Record<string, string> {
    const g = model.graph;
    const rename = new Map<string, string>();
    for (const i of g.inputs) {
      const to = inputs[i.name];
      if (!to) throw new Error(`inline: no tensor given for input '${i.name}' of '${model.source}'`);
      const want = i.shape;
      const have = this.shape(to);
      if (want && (want.length !== have.length || want.some((d, k) => typeof d === 'number' && d !== have[k]))) {
        throw new Error(`inline: input '${i.name}' of '${model.source}' is [${want.join(', ')}], given [${have.join(', ')}]`);
      }
      rename.set(i.name, to);
    }
    // The inlined graph's outputs are internal here: keep their names free for this graph's outputs.
    for (const o of g.outputs) {
      if (rename.has(o.name)) continue;
      const r = this.b.unique(`${g.name || 'inlined'}/${o.name}`);
      rename.set(o.name, r);
      const ti = info.get(o.name);
      if (ti) this.b.info.set(r, { dtype: ti.dtype, dims: ti.dims });
    }
    const name = (t: string) => {
      if (!t) return t;
      let r = rename.get(t);
      if (r === undefined) {
        r = this.b.unique(t);
        rename.set(t, r);
        const ti = info.get(t);
        if (ti) this.b.info.set(r, { dtype: ti.dtype, dims: ti.dims });
      }
      return r;
    };
    for (const [k, t] of g.initializers) {
      const r = name(k);
      this.b.initializers.set(r, { ...t, name: r });
      if (!this.b.info.has(r)) this.b.info.set(r, { dtype: t.dtype, dims: t.dims });
    }
    for (const n of g.nodes) {
      this.b.nodes.push({ ...n, name: this.b.unique(n.name), inputs: n.inputs.map(name), outputs: n.outputs.map(name) });
    }
    const out: Record<string, string> = {};
    for (const o of g.outputs) out[o.name] = name(o.name);
    return out;
  }

  /** Marks `tensor` as the graph output `name`. */
  output(name: string, tensor: string): void {
    this.outputs.push({ name, tensor });
  }

  build(): Model {
    const nodes = [...this.b.nodes];
    for (const o of this.outputs) {
      if (o.tensor !== o.name) {
        this.b.unique(o.name);
        nodes.push({ name: `${this.prefix}/output_${o.name}`, opType: 'Identity', domain: '', inputs: [o.tensor], outputs: [o.name], attrs: {}, metadata: {} });
      }
    }
    const model: Model = {
      irVersion: 8,
      opsets: [{ domain: '', version: this.opset }],
      producerName: 'sd4match',
      producerVersion: '',
      docString: '',
      metadata: {},
      functions: [],
      source: this.name,
      graph: {
        name: this.name,
        nodes,
        inputs: this.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: [...i.dims] })),
        outputs: this.outputs.map((o) => ({ name: o.name, dtype: this.dtype(o.tensor), shape: [...this.shape(o.tensor)] })),
        initializers: new Map(this.b.initializers),
        valueInfo: new Map(),
      },
    };
    try {
      validateGraph(model.graph);
    } catch (e) {
      throw new AppError('INTERNAL', `built graph '${this.name}' is invalid: ${(e as Error).message}`);
    }
    return model;
  }
}

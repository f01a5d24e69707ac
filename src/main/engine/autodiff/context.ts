/**
 * The builder gradient rules write into. Every emitted tensor gets its shape inferred on the spot,
 * so rules can ask for shapes of what they built and every gradient is checked against its input.
 * Names are deterministic (`<node>_Grad/<what>`) so gradient graphs diff cleanly.
 */
import { AppError } from '../../api/errors.js';
import { type DType, dtypeCode } from '../onnx/dtypes.js';
import { type Attr, type Node, numel, type TensorValue } from '../onnx/ir.js';
import { type ConstVal, inferNode, type TensorInfo } from '../onnx/shape-infer.js';
import { constToTensorValue } from '../onnx/specialize.js';

export type AttrValue = number | number[] | string | TensorValue;

/** Shared state of one backward pass. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, TensorValue>();
  private readonly used: Set<string>;
  private counter = 0;

  constructor(
    readonly info: Map<string, TensorInfo>,
    readonly opset: number,
    usedNames: Iterable<string>,
  ) {
    this.used = new Set(usedNames);
  }

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  shape(name: string): number[] {
    const t = this.info.get(name);
    if (!t) throw new Error(`autodiff: no shape known for '${name}'`);
    return t.dims;
  }

  dtype(name: string): DType {
    const t = this.info.get(name);
    if (!t) throw new Error(`autodiff: no dtype known for '${name}'`);
    return t.dtype;
  }

  /** Emits one node; returns its output names. Shapes of the outputs are inferred immediately. */
  op(prefix: string, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1): string[] {
    const id = this.counter++;
    const name = this.unique(`${prefix}/${opType}_${id}`);
    const outputs = Array.from({ length: nOut }, (_, i) => this.unique(`${name}_out${i}`));
    const node: Node = { name, opType, domain: '', inputs, outputs, attrs: toAttrs(attrs), metadata: {} };
    const ins = inputs.map((i) => (i ? this.info.get(i) : undefined));
    let outs;
    try {
      outs = inferNode(node, ins, this.opset);
    } catch (e) {
      throw new Error(`autodiff: emitted node ${opType} under '${prefix}' is ill-formed: ${(e as Error).message}`);
    }
    outputs.forEach((o, i) => this.info.set(o, { dtype: outs[i].dtype, dims: outs[i].dims }));
    this.nodes.push(node);
    return outputs;
  }

  /** A constant initializer; small values are recorded so shape inference can read them. */
  constant(prefix: string, values: number[], dims: number[], dtype: DType = 'float32'): string {
    if (values.length !== numel(dims)) throw new Error(`autodiff: constant of shape [${dims}] needs ${numel(dims)} values`);
    const name = this.unique(`${prefix}/const_${this.counter++}`);
    const c: ConstVal = { dtype, dims, v: values };
    this.initializers.set(name, constToTensorValue(name, c));
    this.info.set(name, { dtype, dims, value: c });
    return name;
  }
}

function toAttrs(attrs: Record<string, AttrValue>): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'string') out[k] = { type: 'string', value: v };
    else if (Array.isArray(v)) out[k] = { type: 'ints', value: v };
    else if (typeof v === 'number') out[k] = Number.isInteger(v) && !FLOAT_ATTRS.has(k) ? { type: 'int', value: v } : { type: 'float', value: v };
    else out[k] = { type: 'tensor', value: v };
  }
  return out;
}

const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'value_float']);

/** Read access to the forward graph and to finished gradients, for rules that exploit structure. */
export interface GraphView {
  consumers(tensor: string): Node[];
  gradOf(tensor: string): string | null;
}

/** What a rule sees of the node it differentiates, plus emit helpers scoped to it. */
export class RuleContext {
  readonly prefix: string;
  /** Gradients the rule produced per input index. */
  readonly produced = new Map<number, string>();

  constructor(
    readonly b: GraphBuilder,
    readonly node: Node,
    private readonly outputGrads: (string | null)[],
    private readonly active: boolean[],
    private readonly graphView: GraphView = { consumers: () => [], gradOf: () => null },
  ) {
    this.prefix = `${node.name}_Grad`;
  }

  /** Nodes of the forward graph that read `tensor`. */
  consumers(tensor: string): Node[] {
    return this.graphView.consumers(tensor);
  }

  /**
   * The total gradient of a tensor downstream of this node (its consumers were all processed
   * before this node, in reverse topological order), or null when zero.
   */
  gradOf(tensor: string): string | null {
    return this.graphView.gradOf(tensor);
  }

  get opset(): number {
    return this.b.opset;
  }

  /** Name of input i. */
  I(i: number): string {
    return this.node.inputs[i];
  }

  /** Name of output i. */
  O(i: number): string {
    return this.node.outputs[i];
  }

  /** Gradient flowing into output i, or null when it is zero. */
  GO(i: number): string | null {
    return this.outputGrads[i] ?? null;
  }

  /** Gradient into output i, materialising zeros when absent. */
  GOorZeros(i: number): string {
    return this.GO(i) ?? this.zeros(this.shape(this.O(i)), this.dtype(this.O(i)));
  }

  /** Whether input i needs a gradient. */
  needs(i: number): boolean {
    return !!this.active[i];
  }

  /** Records the gradient of input i, checking its shape and dtype against the input. */
  GI(i: number, grad: string): void {
    if (!this.needs(i)) return;
    const want = this.shape(this.I(i));
    const got = this.shape(grad);
    if (want.length !== got.length || want.some((d, k) => d !== got[k])) {
      throw new AppError(
        'INTERNAL',
        `gradient rule for ${this.node.opType} (node '${this.node.name}') produced shape [${got}] for input ${i} of shape [${want}]`,
      );
    }
    if (this.dtype(grad) !== this.dtype(this.I(i))) {
      throw new AppError('INTERNAL', `gradient rule for ${this.node.opType} (node '${this.node.name}') produced ${this.dtype(grad)} for a ${this.dtype(this.I(i))} input`);
    }
    this.produced.set(i, grad);
  }

  attr(name: string): Attr | undefined {
    return this.node.attrs[name];
  }

  attrInt(name: string, def: number): number {
    const a = this.node.attrs[name];
    return a && a.type === 'int' ? a.value : def;
  }

  /** Float attributes are float32 in ONNX: round so emitted constants match what the forward used. */
  attrFloat(name: string, def: number): number {
    const a = this.node.attrs[name];
    return Math.fround(a && (a.type === 'float' || a.type === 'int') ? a.value : def);
  }

  attrInts(name: string, def: number[]): number[] {
    const a = this.node.attrs[name];
    return a && a.type === 'ints' ? a.value : def;
  }

  attrString(name: string, def: string): string {
    const a = this.node.attrs[name];
    return a && a.type === 'string' ? a.value : def;
  }

  /** Known constant value of input i (shape parameters), or undefined. */
  constInput(i: number): number[] | undefined {
    const name = this.I(i);
    return name ? this.b.info.get(name)?.value?.v : undefined;
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

  /** Mean over `axes` with keepdims (axes an attribute before opset 18, an input from then on). */
  reduceMean(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 18) return this.op1('ReduceMean', [x, this.ints(axes)], { keepdims: 1 });
    return this.op1('ReduceMean', [x], { axes, keepdims: 1 });
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
    const range = this.b.constant(this.prefix, Array.from({ length: depth }, (_, j) => j), rangeDims, 'int64');
    return this.op1('Cast', [this.op1('Equal', [wrapped, range])], { to: dtypeCode(dtype) });
  }

  /** Expands `x` (shape broadcastable) to `dims`. */
  expand(x: string, dims: number[]): string {
    const s = this.shape(x);
    if (s.length === dims.length && s.every((d, i) => d === dims[i])) return x;
    return this.op1('Expand', [x, this.ints(dims)]);
  }
}

/**
 * What a gradient rule works with: the node, its output gradients, which inputs need gradients,
 * and the emit helpers of OpEmitter scoped to `<node>_Grad/`. Every emitted tensor has its shape
 * inferred on the spot, and every gradient is checked against its input as it is recorded.
 */
import { AppError } from '../../shared/errors.js';
import { type GraphBuilder, OpEmitter } from '../onnx/builder.js';
import type { Attr, Node } from '../onnx/ir.js';
import { REDUCE_AXES_INPUT_OPSET, reduceAxes } from '../onnx/shape-infer.js';

/** Read access to the forward graph and to finished gradients, for rules that exploit structure. */
export interface GraphView {
  consumers(tensor: string): Node[];
  gradOf(tensor: string): string | null;
}

/** What a rule sees of the node it differentiates, plus emit helpers scoped to it. */
export class RuleContext extends OpEmitter {
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
    super();
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
      throw new AppError('INTERNAL', `gradient rule for ${this.node.opType} (node '${this.node.name}') produced shape [${got}] for input ${i} of shape [${want}]`);
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

  /** A reduction node's input shape, reduced axes and the shape with those axes kept as 1. */
  reduction(): { xs: number[]; axes: number[]; kept: number[] } {
    const xs = this.shape(this.I(0));
    const info = this.node.inputs.map((n) => (n ? this.b.info.get(n) : undefined));
    const axes = reduceAxes(this.node, info, this.opset, REDUCE_AXES_INPUT_OPSET[this.node.opType], xs.length);
    return { xs, axes, kept: xs.map((d, i) => (axes.includes(i) ? 1 : d)) };
  }

  /** Known constant value of input i (shape parameters), or undefined. */
  constInput(i: number): number[] | undefined {
    const name = this.I(i);
    return name ? this.b.info.get(name)?.value?.v : undefined;
  }
}

/**
 * Reverse-mode autodiff over ONNX graphs. From a specialised graph (every shape concrete), builds one
 * standard-ONNX graph that computes the original outputs and the gradients of a chosen output
 * (contracted with a cotangent) with respect to chosen float inputs, in a single run: forward
 * activations are reused by the backward nodes.
 *
 * Only the path from the wanted inputs to the output is differentiated, and only its nodes need a
 * gradient rule; contributions to a tensor are summed; absent gradients stay symbolic (null) until
 * a rule needs zeros; every gradient's shape and dtype is checked against its input as it is
 * recorded. Gradient names are local to each node (`<node>_Grad/<Op>_<n>`, ORT style).
 */
import { AppError } from '../../shared/errors.js';
import { type DType, isFloat } from '../onnx/dtypes.js';
import { constFromTensor } from '../onnx/constant-fold.js';
import { consumerMap, topoSort, validateGraph } from '../onnx/graph-utils.js';
import { cloneModel, defaultOpset, type Model, type Node, numel } from '../onnx/ir.js';
import type { TensorInfo } from '../onnx/shape-infer.js';
import type { Specialized } from '../onnx/specialize.js';
import { GraphBuilder } from '../onnx/builder.js';
import { RuleContext } from './context.js';
import { type Composite, findComposites, REMAT_DEFAULTS, type RematPolicy } from './patterns.js';
import { ruleOnPath } from './registry.js';
import type { BuildRule, ZeroRule } from './rule.js';

export interface VjpOptions {
  /** Float graph inputs to differentiate. */
  wrt: string[];
  /** The output whose cotangent is contracted (default: the graph's only output). */
  output?: string;
  /**
   * Where the cotangent comes from: a new graph input named `grad_<output>` (default), or a
   * constant of ones (the gradient of a scalar loss).
   */
  seed?: 'input' | 'ones';
  /** Keep only the differentiated output besides the gradients (default: keep all outputs). */
  onlyDifferentiatedOutput?: boolean;
  /** What to recompute in the backward pass instead of keeping it from the forward (patterns.ts). */
  rematerialize?: Partial<RematPolicy>;
}

export interface VjpGraph {
  model: Model;
  /** Name of the cotangent input, or null when seeded with ones. */
  cotangentInput: string | null;
  /** Output name of each input's gradient. */
  gradOutputs: Record<string, string>;
  output: string;
  info: Map<string, { dtype: DType; dims: number[] }>;
}

export function buildVjp(spec: Specialized, options: VjpOptions): VjpGraph {
  const model = cloneModel(spec.model);
  const g = model.graph;
  const opset = defaultOpset(model);
  const floatInputs = g.inputs.filter((i) => isFloat(i.dtype)).map((i) => i.name);
  if (options.wrt.length === 0) throw new AppError('INVALID_ARGUMENT', 'nothing to differentiate: give at least one input (--wrt)');
  for (const w of options.wrt) {
    if (!floatInputs.includes(w)) {
      const isInput = g.inputs.some((i) => i.name === w);
      throw new AppError(
        'INVALID_ARGUMENT',
        `--wrt '${w}' is not a float input of the graph${isInput ? ` (it is ${g.inputs.find((i) => i.name === w)!.dtype})` : ''}; float inputs: ${floatInputs.join(', ') || '(none)'}`,
      );
    }
  }
  let output = options.output;
  if (!output) {
    if (g.outputs.length !== 1) {
      throw new AppError('INVALID_ARGUMENT', `the graph has ${g.outputs.length} outputs (${g.outputs.map((o) => o.name).join(', ')}); choose one with --output`);
    }
    output = g.outputs[0].name;
  } else if (!g.outputs.some((o) => o.name === output)) {
    throw new AppError('INVALID_ARGUMENT', `'${output}' is not an output of the graph (outputs: ${g.outputs.map((o) => o.name).join(', ')})`);
  }
  const outInfo = spec.info.get(output)!;
  if (!isFloat(outInfo.dtype)) throw new AppError('INVALID_ARGUMENT', `output '${output}' is ${outInfo.dtype}; only float outputs can be differentiated`);

  // Shapes of every tensor, and values of small initializers (slice bounds, scales, shapes).
  const info = new Map<string, TensorInfo>();
  for (const [k, v] of spec.info) info.set(k, { dtype: v.dtype, dims: v.dims });
  for (const [name, t] of g.initializers) {
    const entry = info.get(name) ?? { dtype: t.dtype, dims: t.dims };
    if (numel(t.dims) <= 4096 && t.data.kind !== 'strings') entry.value = constFromTensor(t);
    info.set(name, entry);
  }

  const order = topoSort(g);
  // Backward reach from the output, then forward reach from the wanted inputs through
  // differentiable ops. Only nodes on a float path between the two need a rule (TFJS tape.ts): an
  // op that feeds a side output, or only integers into the path, is never asked for its gradient.
  const bwd = new Set<string>([output]);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k];
    if (n.outputs.some((o) => bwd.has(o))) for (const i of n.inputs) if (i) bwd.add(i);
  }
  const fwd = new Set<string>(options.wrt);
  const rules = new Map<Node, BuildRule | ZeroRule>();
  for (const n of order) {
    if (!n.inputs.some((i) => fwd.has(i))) continue;
    const floatOuts = n.outputs.filter((o) => o && isFloat(info.get(o)!.dtype));
    if (!floatOuts.some((o) => bwd.has(o))) continue;
    const rule = ruleOnPath(n, opset);
    rules.set(n, rule);
    if (rule.kind === 'zero') continue;
    for (const o of floatOuts) fwd.add(o);
  }
  const active = (t: string) => !!t && fwd.has(t) && bwd.has(t) && isFloat(info.get(t)!.dtype);

  const used = new Set<string>();
  for (const n of g.nodes) {
    used.add(n.name);
    n.inputs.forEach((i) => used.add(i));
    n.outputs.forEach((o) => used.add(o));
  }
  for (const i of g.inputs) used.add(i.name);
  for (const k of g.initializers.keys()) used.add(k);
  const b = new GraphBuilder(info, opset, used);

  const contributions = new Map<string, string[]>();
  const contribute = (t: string, grad: string) => {
    let list = contributions.get(t);
    if (!list) contributions.set(t, (list = []));
    list.push(grad);
  };
  const summed = new Map<string, string>();
  const total = (t: string): string | null => {
    const list = contributions.get(t);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0];
    const done = summed.get(t);
    if (done) return done;
    // a balanced tree of binary Adds, not a variadic Sum: GPU providers (WebGPU) have no Sum kernel
    let level = list;
    while (level.length > 1) {
      const next: string[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(b.op(`${t}_GradSum`, 'Add', [level[i], level[i + 1]])[0]);
      if (level.length % 2) next.push(level.at(-1)!);
      level = next;
    }
    const sum = level[0];
    summed.set(t, sum);
    return sum;
  };

  let cotangentInput: string | null = null;
  if ((options.seed ?? 'input') === 'input') {
    cotangentInput = b.unique(`grad_${output}`);
    info.set(cotangentInput, { dtype: outInfo.dtype, dims: outInfo.dims });
    g.inputs.push({ name: cotangentInput, dtype: outInfo.dtype, shape: [...outInfo.dims] });
    contribute(output, cotangentInput);
  } else {
    contribute(output, b.constant(`${output}_Grad`, new Array(numel(outInfo.dims)).fill(1), outInfo.dims, outInfo.dtype));
  }

  const consumers = consumerMap(g);
  const view = { consumers: (t: string) => consumers.get(t) ?? [], gradOf: (t: string) => (active(t) ? total(t) : null) };
  // Subgraphs differentiated as a whole (see patterns.ts): their inner nodes are skipped.
  const policy = { ...REMAT_DEFAULTS, ...options.rematerialize };
  const composites = findComposites(
    g,
    consumers,
    (t) => info.get(t)?.value?.v,
    (t) => info.get(t)!.dims,
    opset,
    policy,
    (t) => info.get(t)?.dtype,
  );
  const compositeAt = new Map<Node, Composite>();
  const inside = new Set<Node>();
  for (const c of composites) {
    if (!c.virtual.inputs.some(active) || !active(c.virtual.outputs[0])) continue;
    compositeAt.set(c.last, c);
    for (const n of c.nodes) inside.add(n);
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k];
    const composite = compositeAt.get(n);
    if (!composite && inside.has(n)) continue;
    const node = composite ? composite.virtual : n;
    if (!node.outputs.some((o) => active(o) && contributions.has(o))) continue;
    const activeInputs = node.inputs.map((i) => active(i));
    if (!activeInputs.some(Boolean)) continue;
    const ctx = new RuleContext(
      b,
      node,
      node.outputs.map((o) => (active(o) ? total(o) : null)),
      activeInputs,
      view,
    );
    if (composite) {
      composite.build(ctx);
    } else {
      // every node reached here has an active output, so the forward reach looked its rule up
      const rule = rules.get(n) ?? ruleOnPath(n, opset);
      if (rule.kind === 'zero') continue;
      rule.build(ctx);
    }
    for (const [i, grad] of ctx.produced) contribute(node.inputs[i], grad);
  }

  const gradOutputs: Record<string, string> = {};
  for (const w of options.wrt) {
    const wi = info.get(w)!;
    let grad = total(w);
    if (!grad) {
      // the output does not depend on this input: its gradient is zero
      grad = b.constant(`${w}_Grad`, new Array(numel(wi.dims)).fill(0), wi.dims, wi.dtype);
    }
    const name = b.unique(`grad_${w}`);
    b.nodes.push({ name: `${name}_Identity`, opType: 'Identity', domain: '', inputs: [grad], outputs: [name], attrs: {}, metadata: {} });
    info.set(name, { dtype: wi.dtype, dims: wi.dims });
    gradOutputs[w] = name;
  }

  g.nodes = [...g.nodes, ...b.nodes];
  for (const [k, v] of b.initializers) g.initializers.set(k, v);
  const keptOutputs = options.onlyDifferentiatedOutput ? g.outputs.filter((o) => o.name === output) : g.outputs;
  g.outputs = [...keptOutputs, ...options.wrt.map((w) => ({ name: gradOutputs[w], dtype: info.get(w)!.dtype, shape: [...info.get(w)!.dims] }))];
  for (const n of b.nodes) {
    for (const o of n.outputs) {
      const t = info.get(o);
      if (t && !g.outputs.some((x) => x.name === o)) g.valueInfo.set(o, { name: o, dtype: t.dtype, shape: [...t.dims] });
    }
  }
  validateGraph(g);
  model.metadata = { ...model.metadata, 'sd4match.vjp': JSON.stringify({ wrt: options.wrt, output }) };
  const outMap = new Map<string, { dtype: DType; dims: number[] }>();
  for (const [k, v] of info) outMap.set(k, { dtype: v.dtype, dims: v.dims });
  return { model, cotangentInput, gradOutputs, output, info: outMap };
}

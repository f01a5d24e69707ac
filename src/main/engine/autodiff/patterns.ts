/**
 * Composite gradients for subgraphs that exporters write out op by op. Differentiating them as a
 * whole gives the same numbers with a fraction of the nodes, and node count is what a CPU
 * backward pass of a small model spends its time on.
 *
 * Decomposed layer norm (TorchScript exports below opset 17, e.g. CLIP and the UNet's transformer
 * blocks): μ = mean(x), d = x - μ, σ = √(mean(d²) + ε), x̂ = d / σ over the same axes. With g = ∂/∂x̂:
 *   dx = (g - mean(g) - x̂ · mean(g · x̂)) / σ
 * Internal tensors must have no consumers outside the pattern, so g is the only gradient flowing in.
 *
 * Attention O = softmax(c·A·B)·V (see onnx/attention.ts), when its probabilities are large: the
 * gradients are computed over blocks of query rows, each block's probabilities recomputed from A
 * and B, so the backward pass never holds (nor keeps from the forward) the [.., S, T] tensor.
 */
import { emitBlockedAttentionGrad, findAttentionCores, probabilityBytes } from '../onnx/attention.js';
import type { DType } from '../onnx/dtypes.js';
import { type Graph, type Node, numel } from '../onnx/ir.js';
import type { RuleContext } from './context.js';

/**
 * Rematerialisation policy: attention cores whose probabilities take at least `attentionMinBytes`
 * are differentiated by recomputing them per block of query rows (at most `blockBytes` of
 * block-sized temporaries live at once) instead of keeping them from the forward pass.
 */
export interface RematPolicy {
  attentionMinBytes: number;
  blockBytes: number;
}

export const REMAT_DEFAULTS: RematPolicy = { attentionMinBytes: 32 * 2 ** 20, blockBytes: 256 * 2 ** 20 };

export interface Composite {
  kind: string;
  /** All nodes of the pattern; only `last` triggers the composite rule. */
  nodes: Node[];
  last: Node;
  /** A stand-in node with the pattern's external inputs and output, for the rule context. */
  virtual: Node;
  build(ctx: RuleContext): void;
}

function only<T>(list: T[] | undefined): T | undefined {
  return list && list.length === 1 ? list[0] : undefined;
}

/** Constant scalar value of an initializer-backed tensor, if small and known. */
type ValueOf = (name: string) => number[] | undefined;

function reduceAxesOf(n: Node, valueOf: ValueOf, opset: number): number[] | undefined {
  if (n.opType !== 'ReduceMean') return undefined;
  const keep = n.attrs.keepdims;
  if (keep && keep.type === 'int' && keep.value === 0) return undefined;
  if (opset >= 18) return n.inputs[1] ? valueOf(n.inputs[1]) : undefined;
  const a = n.attrs.axes;
  return a && a.type === 'ints' ? a.value : undefined;
}

export function findComposites(
  g: Graph,
  consumers: Map<string, Node[]>,
  valueOf: ValueOf,
  shapeOf: (name: string) => number[],
  opset: number,
  policy: RematPolicy = REMAT_DEFAULTS,
  dtypeOf?: (name: string) => DType | undefined,
): Composite[] {
  const outputs = new Set(g.outputs.map((o) => o.name));
  const internal = (t: string, users: Node[]) => {
    const c = consumers.get(t) ?? [];
    return !outputs.has(t) && c.length === users.length && c.every((n) => users.includes(n));
  };
  const found: Composite[] = [];
  for (const mean1 of g.nodes) {
    const axes = reduceAxesOf(mean1, valueOf, opset);
    if (!axes) continue;
    const x = mean1.inputs[0];
    const mu = mean1.outputs[0];
    const sub = only(consumers.get(mu));
    if (!sub || sub.opType !== 'Sub' || sub.inputs[0] !== x || sub.inputs[1] !== mu) continue;
    const d = sub.outputs[0];
    const dUsers = consumers.get(d) ?? [];
    if (dUsers.length !== 2) continue;
    const sq = dUsers.find((n) => (n.opType === 'Pow' && valueOf(n.inputs[1])?.[0] === 2) || (n.opType === 'Mul' && n.inputs[0] === d && n.inputs[1] === d));
    const div = dUsers.find((n) => n.opType === 'Div' && n.inputs[0] === d);
    if (!sq || !div) continue;
    const mean2 = only(consumers.get(sq.outputs[0]));
    const axes2 = mean2 ? reduceAxesOf(mean2, valueOf, opset) : undefined;
    if (!mean2 || !axes2 || axes2.join() !== axes.join()) continue;
    const add = only(consumers.get(mean2.outputs[0]));
    if (!add || add.opType !== 'Add') continue;
    const epsName = add.inputs[0] === mean2.outputs[0] ? add.inputs[1] : add.inputs[0];
    const eps = valueOf(epsName);
    if (!eps || eps.length !== 1) continue;
    const sqrt = only(consumers.get(add.outputs[0]));
    if (!sqrt || sqrt.opType !== 'Sqrt' || div.inputs[1] !== sqrt.outputs[0]) continue;
    const nodes = [mean1, sub, sq, mean2, add, sqrt, div];
    const ok =
      internal(mu, [sub]) &&
      internal(d, [sq, div]) &&
      internal(sq.outputs[0], [mean2]) &&
      internal(mean2.outputs[0], [add]) &&
      internal(add.outputs[0], [sqrt]) &&
      internal(sqrt.outputs[0], [div]) &&
      numel(shapeOf(sqrt.outputs[0])) > 0;
    if (!ok) continue;
    const xhat = div.outputs[0];
    const sigma = sqrt.outputs[0];
    const rank = shapeOf(x).length;
    const normAxes = axes.map((a) => (a < 0 ? a + rank : a));
    found.push({
      kind: 'decomposed LayerNorm',
      nodes,
      last: div,
      virtual: { name: `${div.name}`, opType: 'LayerNorm(decomposed)', domain: '', inputs: [x], outputs: [xhat], attrs: {}, metadata: {} },
      build(ctx) {
        const gr = ctx.GO(0)!;
        const m1 = ctx.reduceMean(gr, normAxes);
        const m2 = ctx.reduceMean(ctx.mul(gr, xhat), normAxes);
        const inner = ctx.sub(ctx.sub(gr, m1), ctx.mul(xhat, m2));
        ctx.GI(0, ctx.div(inner, sigma));
      },
    });
  }
  if (dtypeOf) {
    const info = (t: string) => {
      const dtype = dtypeOf(t);
      return dtype ? { dtype, dims: shapeOf(t) } : undefined;
    };
    for (const core of findAttentionCores(g, info, valueOf, consumers)) {
      if (probabilityBytes(core) < policy.attentionMinBytes) continue;
      const last = core.nodes[core.nodes.length - 1];
      found.push({
        kind: 'attention (recomputed per query block)',
        nodes: core.nodes,
        last,
        virtual: { name: last.name, opType: 'Attention(rematerialised)', domain: '', inputs: [core.a, core.b, core.v], outputs: [core.out], attrs: {}, metadata: {} },
        build(ctx) {
          const dO = ctx.GO(0)!;
          const g = emitBlockedAttentionGrad(ctx, core, dO, { a: ctx.needs(0), b: ctx.needs(1), v: ctx.needs(2) }, policy.blockBytes);
          if (g.a) ctx.GI(0, g.a);
          if (g.b) ctx.GI(1, g.b);
          if (g.v) ctx.GI(2, g.v);
        },
      });
    }
  }
  return found;
}

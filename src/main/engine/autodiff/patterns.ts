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
 * Exact GELU as exporters write it, y = x · ½(1 + erf(x/√2)): dx = g · (Φ(x) + x·φ(x)), with
 * Φ(x) = ½(1 + erf(x/√2)) and φ(x) = exp(-x²/2)/√(2π) recomputed from x, so the backward pass keeps
 * x alone instead of x/√2, 1 + erf(·) and x·(1 + erf(·)) (SD's GEGLU layers: 3 fewer tensors of
 * [tokens, 4·width] per transformer block).
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
  found.push(...findGelus(g, consumers, valueOf, internal));
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

const near = (v: number[] | undefined, want: number) => !!v && v.length === 1 && Math.abs(v[0] - want) < 1e-4 * Math.abs(want);

/** Erf-based GELU: x → Div(x, √2) | Mul(x, 1/√2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, ½). */
function findGelus(g: Graph, consumers: Map<string, Node[]>, valueOf: ValueOf, internal: (t: string, users: Node[]) => boolean): Composite[] {
  const found: Composite[] = [];
  const other = (n: Node, t: string) => (n.inputs[0] === t ? n.inputs[1] : n.inputs[0]);
  for (const erf of g.nodes) {
    if (erf.opType !== 'Erf') continue;
    const producers = g.nodes.filter((n) => n.outputs.includes(erf.inputs[0]));
    const scale = producers[0];
    if (!scale) continue;
    const x = scale.inputs[0];
    const ok = (scale.opType === 'Div' && near(valueOf(scale.inputs[1]), Math.SQRT2)) || (scale.opType === 'Mul' && near(valueOf(scale.inputs[1]), Math.SQRT1_2));
    if (!ok) continue;
    const add = only(consumers.get(erf.outputs[0]));
    if (!add || add.opType !== 'Add' || !near(valueOf(other(add, erf.outputs[0])), 1)) continue;
    const mul = only(consumers.get(add.outputs[0]));
    if (!mul || mul.opType !== 'Mul' || other(mul, add.outputs[0]) !== x) continue;
    const half = only(consumers.get(mul.outputs[0]));
    if (!half || half.opType !== 'Mul' || !near(valueOf(other(half, mul.outputs[0])), 0.5)) continue;
    if (!internal(scale.outputs[0], [erf]) || !internal(erf.outputs[0], [add]) || !internal(add.outputs[0], [mul]) || !internal(mul.outputs[0], [half])) continue;
    found.push({
      kind: 'GELU (erf)',
      nodes: [scale, erf, add, mul, half],
      last: half,
      virtual: { name: half.name, opType: 'Gelu(decomposed)', domain: '', inputs: [x], outputs: [half.outputs[0]], attrs: {}, metadata: {} },
      build(ctx) {
        const gr = ctx.GO(0)!;
        const cdf = ctx.mul(ctx.add(ctx.op1('Erf', [ctx.mul(x, ctx.scalar(Math.SQRT1_2, x))]), ctx.scalar(1, x)), ctx.scalar(0.5, x));
        const pdf = ctx.mul(ctx.op1('Exp', [ctx.mul(ctx.mul(x, x), ctx.scalar(-0.5, x))]), ctx.scalar(1 / Math.sqrt(2 * Math.PI), x));
        ctx.GI(0, ctx.mul(gr, ctx.add(cdf, ctx.mul(x, pdf))));
      },
    });
  }
  return found;
}

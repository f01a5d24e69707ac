/**
 * Attention cores in exported graphs, and memory-efficient forms of them.
 *
 * Exporters write scaled dot-product attention op by op: O = softmax(c · A·B) · V, with A the
 * (scaled) queries [..., S, d], B the (scaled) keys already transposed [..., d, T] and V [..., T, dv].
 * The probabilities are [..., S, T]: for SD 2-1 at 768 px (96 x 96 latents) 5 heads x 9216² floats,
 * 1.7 GB per self-attention layer and image. Two forward forms never hold them whole:
 *  - 'fused': ONNX Runtime's com.microsoft.MultiHeadAttention (flash attention on the CPU, fused
 *    kernels on CUDA / DirectML / WebGPU; any provider without it falls back to the CPU kernel);
 *  - 'blocked': standard ops only, a Scan over query blocks (each block's probabilities live for
 *    one iteration).
 * The backward pass (autodiff/patterns.ts) recomputes each block's probabilities from A and B
 * instead of keeping them: FlashAttention's backward, over query blocks.
 */
import { DTYPE_SIZE, type DType } from './dtypes.js';
import { type AttrValue, GraphBuilder, OpEmitter } from './builder.js';
import { consumerMap, producerMap, validateGraph } from './graph-utils.js';
import { cloneModel, type Graph, type Model, type Node, numel, type ValueInfo } from './ir.js';
import type { TensorInfo } from './shape-infer.js';

export const MS_DOMAIN = 'com.microsoft';

export interface AttentionCore {
  /** Nodes of the pattern, in order: MatMul, [Mul|Div by a scalar], Softmax, MatMul. */
  nodes: Node[];
  a: string;
  b: string;
  v: string;
  out: string;
  /** c in softmax(c · A·B). */
  scale: number;
  /** Leading (batch, head) dimensions shared by A, B, V and the output. */
  lead: number[];
  S: number;
  T: number;
  d: number;
  dv: number;
  dtype: DType;
}

/** Bytes of the core's probability tensor [..., S, T]. */
export function probabilityBytes(c: AttentionCore): number {
  return numel(c.lead) * c.S * c.T * DTYPE_SIZE[c.dtype];
}

type ShapeOf = (name: string) => { dtype: DType; dims: number[] } | undefined;
type ValueOf = (name: string) => number[] | undefined;

function only<T>(list: T[] | undefined): T | undefined {
  return list && list.length === 1 ? list[0] : undefined;
}

/**
 * Finds attention cores whose internal tensors (scores, probabilities) nothing else reads.
 * `valueOf` gives the values of small constants (the scale), `shapeOf` every tensor's shape.
 */
export function findAttentionCores(g: Graph, shapeOf: ShapeOf, valueOf: ValueOf, consumers = consumerMap(g)): AttentionCore[] {
  const producers = producerMap(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const internal = (t: string, user: Node) => !outputs.has(t) && only(consumers.get(t)) === user;
  const found: AttentionCore[] = [];
  for (const sm of g.nodes) {
    if (sm.opType !== 'Softmax' || sm.domain) continue;
    const x = shapeOf(sm.inputs[0]);
    if (!x || x.dims.length < 3) continue;
    const axisAttr = sm.attrs.axis;
    const axis = axisAttr && axisAttr.type === 'int' ? axisAttr.value : -1;
    if (axis !== -1 && axis !== x.dims.length - 1) continue;
    let scale = 1;
    let scaleNode: Node | null = null;
    let mm1 = producers.get(sm.inputs[0]);
    if (mm1 && (mm1.opType === 'Mul' || mm1.opType === 'Div') && internal(mm1.outputs[0], sm)) {
      const k = [0, 1].find((i) => valueOf(mm1!.inputs[i])?.length === 1);
      if (k === undefined || (mm1.opType === 'Div' && k === 0)) continue;
      const c = valueOf(mm1.inputs[k])![0];
      scale = mm1.opType === 'Mul' ? c : 1 / c;
      scaleNode = mm1;
      mm1 = producers.get(mm1.inputs[1 - k]);
    }
    if (!mm1 || mm1.opType !== 'MatMul' || !internal(mm1.outputs[0], scaleNode ?? sm)) continue;
    const mm2 = only(consumers.get(sm.outputs[0]));
    if (!mm2 || mm2.opType !== 'MatMul' || mm2.inputs[0] !== sm.outputs[0] || mm2.inputs[1] === sm.outputs[0] || outputs.has(sm.outputs[0])) continue;
    const [a, b, v, o] = [mm1.inputs[0], mm1.inputs[1], mm2.inputs[1], mm2.outputs[0]].map((t) => shapeOf(t));
    if (!a || !b || !v || !o) continue;
    const r = a.dims.length;
    if (b.dims.length !== r || v.dims.length !== r || o.dims.length !== r) continue;
    const lead = a.dims.slice(0, r - 2);
    const same = (dims: number[]) => dims.slice(0, r - 2).every((d, i) => d === lead[i]);
    if (!same(b.dims) || !same(v.dims)) continue;
    const [S, d] = a.dims.slice(r - 2);
    const [d2, T] = b.dims.slice(r - 2);
    const [T2, dv] = v.dims.slice(r - 2);
    if (d !== d2 || T !== T2 || a.dtype !== b.dtype || a.dtype !== v.dtype) continue;
    found.push({
      nodes: scaleNode ? [mm1, scaleNode, sm, mm2] : [mm1, sm, mm2],
      a: mm1.inputs[0],
      b: mm1.inputs[1],
      v: mm2.inputs[1],
      out: mm2.outputs[0],
      scale,
      lead,
      S,
      T,
      d,
      dv,
      dtype: a.dtype,
    });
  }
  return found;
}

/** The value of a one-element float initializer (a scale), if `name` is one. */
export function scalarInitializer(g: Graph, name: string): number[] | undefined {
  const t = g.initializers.get(name);
  if (!t || numel(t.dims) !== 1 || t.data.kind !== 'bytes' || (t.dtype !== 'float32' && t.dtype !== 'float64')) return undefined;
  const dv = new DataView(t.data.bytes.buffer, t.data.bytes.byteOffset, t.data.bytes.byteLength);
  return [t.dtype === 'float32' ? dv.getFloat32(0, true) : dv.getFloat64(0, true)];
}

/**
 * Query rows per block so that `live` tensors of [lead, rows, T] stay within `budget` bytes: the
 * largest divisor of S that fits (Scan needs equal blocks), at least 1.
 */
export function blockRows(c: AttentionCore, live: number, budget: number): number {
  const perRow = live * numel(c.lead) * c.T * DTYPE_SIZE[c.dtype];
  const want = Math.max(1, Math.floor(budget / perRow));
  if (want >= c.S) return c.S;
  for (let r = want; r >= 1; r--) if (c.S % r === 0) return r;
  return 1;
}

/** Emit helpers over any builder (a graph being rewritten, a subgraph body). */
export class Emitter extends OpEmitter {
  constructor(
    readonly b: GraphBuilder,
    readonly prefix: string,
  ) {
    super();
  }
}

/** A subgraph made from a child builder: its inputs, its nodes, the given outputs. */
export function bodyGraph(name: string, child: GraphBuilder, inputs: string[], outputs: string[]): Graph {
  const vi = (n: string): ValueInfo => ({ name: n, dtype: child.dtype(n), shape: [...child.shape(n)] });
  const valueInfo = new Map<string, ValueInfo>();
  for (const node of child.nodes) for (const o of node.outputs) if (o && !outputs.includes(o)) valueInfo.set(o, vi(o));
  return {
    name,
    nodes: [...child.nodes],
    inputs: inputs.map(vi),
    outputs: outputs.map(vi),
    initializers: new Map(child.initializers),
    valueInfo,
  };
}

/** Declares a subgraph input on a child builder. */
export function bodyInput(child: GraphBuilder, base: string, dtype: DType, dims: number[]): string {
  const name = child.unique(base);
  child.info.set(name, { dtype, dims: [...dims] });
  return name;
}

/** Swaps the last two axes. */
function swapLast(e: OpEmitter, x: string): string {
  const r = e.rank(x);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return e.transpose(x, perm);
}

/**
 * A Scan over `nb` equal blocks along the query axis (axis lead.length of the reshaped inputs):
 * states are carried, scan inputs [..., S, x] are seen as [..., rows, x] per iteration, scan
 * outputs are stacked back to [..., S, x].
 */
export function scanOverQueryBlocks(
  e: OpEmitter,
  c: AttentionCore,
  rows: number,
  states: string[],
  scanInputs: string[],
  body: (child: Emitter, states: string[], blocks: string[]) => { states: string[]; outputs: string[] },
): { states: string[]; outputs: string[] } {
  const nb = c.S / rows;
  const axis = c.lead.length;
  const child = e.b.child();
  const be = new Emitter(child, `${e.prefix}/block`);
  const stateIn = states.map((s) => bodyInput(child, `${e.prefix}/state_in`, e.dtype(s), e.shape(s)));
  const blockIn = scanInputs.map((x) => bodyInput(child, `${e.prefix}/block_in`, e.dtype(x), [...c.lead, rows, e.shape(x).at(-1)!]));
  const r = body(be, stateIn, blockIn);
  const g = bodyGraph(`${e.prefix}/body`, child, [...stateIn, ...blockIn], [...r.states, ...r.outputs]);
  const reshaped = scanInputs.map((x) => e.reshape(x, [...c.lead, nb, rows, e.shape(x).at(-1)!]));
  const outs = e.b.opShaped(
    e.prefix,
    'Scan',
    [...states, ...reshaped],
    {
      body: { type: 'graph', value: g },
      num_scan_inputs: scanInputs.length,
      scan_input_axes: scanInputs.map(() => axis),
      scan_output_axes: r.outputs.map(() => axis),
    } as Record<string, AttrValue>,
    [...r.states.map((s) => ({ dtype: child.dtype(s), dims: child.shape(s) })), ...r.outputs.map((o) => ({ dtype: child.dtype(o), dims: [...c.lead, nb, rows, child.shape(o).at(-1)!] }))],
  );
  return {
    states: outs.slice(0, r.states.length),
    outputs: outs.slice(r.states.length).map((o) => e.reshape(o, [...c.lead, c.S, e.shape(o).at(-1)!])),
  };
}

/** softmax(c · A·B) of one block, with the scale applied to the scores as the forward did. */
function blockProbs(e: OpEmitter, c: AttentionCore, aBlock: string): string {
  let s = e.op1('MatMul', [aBlock, c.b]);
  if (c.scale !== 1) s = e.mul(s, e.scalar(c.scale, s));
  return e.op1('Softmax', [s], { axis: -1 });
}

/** The core's output by blocks of query rows (standard ops). */
export function emitBlockedAttention(e: OpEmitter, c: AttentionCore, budget: number): string {
  const rows = blockRows(c, 2, budget);
  if (rows === c.S) return e.op1('MatMul', [blockProbs(e, c, c.a), c.v]);
  return scanOverQueryBlocks(e, c, rows, [], [c.a], (be, _s, [aBlock]) => ({ states: [], outputs: [be.op1('MatMul', [blockProbs(be, c, aBlock), c.v])] })).outputs[0];
}

/**
 * The core's output through com.microsoft.MultiHeadAttention: queries [batch, S, heads·d], keys
 * and values [batch, T, heads·d] (3-D leading dims count as a batch of one-head attentions).
 */
export function emitFusedAttention(e: OpEmitter, c: AttentionCore): string {
  const [batch, heads] = c.lead.length === 2 ? c.lead : [numel(c.lead), 1];
  const lead4 = [batch, heads];
  const a = e.reshape(c.a, [...lead4, c.S, c.d]);
  const b = e.reshape(c.b, [...lead4, c.d, c.T]);
  const v = e.reshape(c.v, [...lead4, c.T, c.dv]);
  const q = e.reshape(e.transpose(a, [0, 2, 1, 3]), [batch, c.S, heads * c.d]);
  const k = e.reshape(e.transpose(b, [0, 3, 1, 2]), [batch, c.T, heads * c.d]);
  const vv = e.reshape(e.transpose(v, [0, 2, 1, 3]), [batch, c.T, heads * c.dv]);
  const [o] = e.b.opShaped(e.prefix, 'MultiHeadAttention', [q, k, vv], { num_heads: heads, scale: c.scale }, [{ dtype: c.dtype, dims: [batch, c.S, heads * c.dv] }], MS_DOMAIN);
  const o4 = e.transpose(e.reshape(o, [batch, c.S, heads, c.dv]), [0, 2, 1, 3]);
  return e.reshape(o4, [...c.lead, c.S, c.dv]);
}

export interface BlockedGradients {
  a?: string;
  b?: string;
  v?: string;
}

/**
 * Gradients of the core for the output gradient `dO`, recomputing each query block's
 * probabilities (P = softmax(c·A_i·B)) from A and B; `o` is the forward output. Per block i:
 *   D = rowsum(dO_i ⊙ O_i), dS = P ⊙ (dO_i·Vᵀ − D),
 *   dA_i = c·dS·Bᵀ, dB += c·A_iᵀ·dS, dV += P_iᵀ·dO_i (accumulated transposed, dO_iᵀ·P_i).
 */
export function emitBlockedAttentionGrad(e: OpEmitter, c: AttentionCore, dO: string, want: { a: boolean; b: boolean; v: boolean }, budget: number): BlockedGradients {
  const rows = blockRows(c, 3, budget);
  const needS = want.a || want.b;
  const bt = want.a ? swapLast(e, c.b) : '';
  const vt = needS ? swapLast(e, c.v) : '';
  const states: string[] = [];
  if (want.b) states.push(e.zeros([...c.lead, c.d, c.T], c.dtype));
  if (want.v) states.push(e.zeros([...c.lead, c.dv, c.T], c.dtype));
  const scanInputs = needS ? [c.a, dO, c.out] : [c.a, dO];
  const step = (be: OpEmitter, st: string[], blocks: string[]) => {
    const [aBlock, dOBlock, oBlock] = blocks;
    const p = blockProbs(be, c, aBlock);
    const outStates: string[] = [];
    const outputs: string[] = [];
    let k = 0;
    let ds = '';
    if (needS) {
      const rowDot = be.reduceSum(be.mul(dOBlock, oBlock), [c.lead.length + 1], true);
      ds = be.mul(p, be.sub(be.op1('MatMul', [dOBlock, vt]), rowDot));
    }
    if (want.b) outStates.push(be.add(st[k++], be.op1('MatMul', [swapLast(be, aBlock), ds])));
    if (want.v) outStates.push(be.add(st[k], be.op1('MatMul', [swapLast(be, dOBlock), p])));
    if (want.a) outputs.push(be.op1('MatMul', [ds, bt]));
    return { states: outStates, outputs };
  };
  let res: { states: string[]; outputs: string[] };
  if (rows === c.S) res = step(e, states, scanInputs);
  else res = scanOverQueryBlocks(e, c, rows, states, scanInputs, step);
  const scaled = (x: string) => (c.scale === 1 ? x : e.mul(x, e.scalar(c.scale, x)));
  const out: BlockedGradients = {};
  let k = 0;
  if (want.b) out.b = scaled(res.states[k++]);
  if (want.v) out.v = swapLast(e, res.states[k]);
  if (want.a) out.a = scaled(res.outputs[0]);
  return out;
}

export interface AttentionRewriteOptions {
  /** 'fused' (MultiHeadAttention), 'blocked' (standard ops), or 'plain' (leave as exported). */
  mode: 'fused' | 'blocked' | 'plain';
  /** Only cores whose probabilities take at least this many bytes are rewritten. */
  minBytes: number;
  /** Working memory per block for the 'blocked' form. */
  blockBytes: number;
}

export const ATTENTION_DEFAULTS: AttentionRewriteOptions = { mode: 'fused', minBytes: 64 * 2 ** 20, blockBytes: 256 * 2 ** 20 };

/** The defaults, with the form chosen by SD4MATCH_ATTENTION (fused, blocked or plain) when set. */
export function attentionOptions(): AttentionRewriteOptions {
  const mode = process.env.SD4MATCH_ATTENTION;
  return mode === 'fused' || mode === 'blocked' || mode === 'plain' ? { ...ATTENTION_DEFAULTS, mode } : ATTENTION_DEFAULTS;
}

/**
 * Replaces the attention cores of a graph whose every tensor's shape is in `info` by a
 * memory-efficient form; the cores' outputs keep their names. Returns the model unchanged when
 * nothing qualifies.
 */
export function rewriteAttention(model: Model, info: Map<string, TensorInfo | { dtype: DType; dims: number[] }>, opts: Partial<AttentionRewriteOptions> = {}): { model: Model; rewritten: number } {
  const o = { ...ATTENTION_DEFAULTS, ...opts };
  if (o.mode === 'plain') return { model, rewritten: 0 };
  const m = cloneModel(model);
  const g = m.graph;
  const tinfo = new Map<string, TensorInfo>();
  for (const [k, v] of info) tinfo.set(k, { dtype: v.dtype, dims: v.dims });
  for (const [k, t] of g.initializers) if (!tinfo.has(k)) tinfo.set(k, { dtype: t.dtype, dims: t.dims });
  const valueOf = (name: string) => scalarInitializer(g, name) ?? (info.get(name) as TensorInfo | undefined)?.value?.v;
  const cores = findAttentionCores(g, (n) => tinfo.get(n), valueOf).filter((c) => probabilityBytes(c) >= o.minBytes);
  if (cores.length === 0) return { model, rewritten: 0 };
  const used = new Set<string>();
  for (const n of g.nodes) {
    used.add(n.name);
    for (const t of [...n.inputs, ...n.outputs]) used.add(t);
  }
  for (const k of g.initializers.keys()) used.add(k);
  for (const i of g.inputs) used.add(i.name);
  const b = new GraphBuilder(tinfo, opsetOf(m), used);
  const removed = new Set<Node>();
  const replacement = new Map<Node, Node[]>();
  cores.forEach((c, i) => {
    const start = b.nodes.length;
    const e = new Emitter(b, `${c.nodes.at(-1)!.name}/${o.mode === 'fused' ? 'fused' : 'blocked'}_attention_${i}`);
    const result = o.mode === 'fused' ? emitFusedAttention(e, c) : emitBlockedAttention(e, c, o.blockBytes);
    b.nodes.push({ name: b.unique(`${e.prefix}/output`), opType: 'Identity', domain: '', inputs: [result], outputs: [c.out], attrs: {}, metadata: {} });
    for (const n of c.nodes) removed.add(n);
    replacement.set(c.nodes.at(-1)!, b.nodes.slice(start));
  });
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    const r = replacement.get(n);
    if (r) nodes.push(...r);
    else if (!removed.has(n)) nodes.push(n);
  }
  g.nodes = nodes;
  for (const [k, v] of b.initializers) g.initializers.set(k, v);
  for (const n of b.nodes) for (const out of n.outputs) if (b.info.has(out)) g.valueInfo.set(out, { name: out, dtype: b.dtype(out), shape: [...b.shape(out)] });
  if (o.mode === 'fused' && !m.opsets.some((x) => x.domain === MS_DOMAIN)) m.opsets = [...m.opsets, { domain: MS_DOMAIN, version: 1 }];
  validateGraph(g);
  return { model: m, rewritten: cores.length };
}

function opsetOf(m: Model): number {
  const op = m.opsets.find((x) => x.domain === '' || x.domain === 'ai.onnx');
  return op ? op.version : 17;
}

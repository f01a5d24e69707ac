/**
 * Attention cores in exported graphs, and memory-efficient forms of them.
 *
 * Exporters write scaled dot-product attention op by op: O = softmax(c · A·B) · V, with A the
 * (scaled) queries [..., S, d], B the (scaled) keys already transposed [..., d, T] and V [..., T, dv].
 * The probabilities are [..., S, T]: for SD 2-1 at 768 px (96 x 96 latents) 5 heads x 9216² floats,
 * 1.7 GB per self-attention layer and image. Two forward forms never hold them whole:
 *  - 'fused': ONNX Runtime's com.microsoft.MultiHeadAttention (flash attention on the CPU, fused
 *    kernels on CUDA / DirectML / WebGPU; any provider without it falls back to the CPU kernel);
 *  - 'blocked': standard ops only, over blocks of query rows unrolled in the graph (no Scan or
 *    Loop: control flow is what GPU providers run worst, and a loop body's small GEMMs suit the
 *    CPU's GEMM kernels badly); each block's probabilities live while the block is computed.
 * The backward pass (autodiff/patterns.ts) recomputes each block's probabilities from A and B
 * instead of keeping them: FlashAttention's backward, over query blocks.
 */
import { fusedAttentionIsExact } from './attention-webgpu.js';
import { DTYPE_SIZE, type DType } from './dtypes.js';
import { GraphBuilder, OpEmitter } from './builder.js';
import { consumerMap, producerMap, validateGraph } from './graph-utils.js';
import { cloneModel, type Graph, type Model, type Node, numel } from './ir.js';
import type { ProviderName } from './providers.js';
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

/** At most this many query blocks per core: each block is a handful of nodes in the graph. */
export const MAX_QUERY_BLOCKS = 16;

/**
 * Query rows per block so that `live` tensors of [lead, rows, T] stay within `budget` bytes, at
 * most MAX_QUERY_BLOCKS blocks: sizes along S, equal but for a smaller last one (all S when one
 * block fits).
 */
export function queryBlocks(c: AttentionCore, live: number, budget: number): number[] {
  const perRow = live * numel(c.lead) * c.T * DTYPE_SIZE[c.dtype];
  const rows = Math.min(c.S, Math.max(1, Math.floor(budget / perRow), Math.ceil(c.S / MAX_QUERY_BLOCKS)));
  const sizes: number[] = [];
  for (let at = 0; at < c.S; at += rows) sizes.push(Math.min(rows, c.S - at));
  return sizes;
}

/** Emit helpers over any builder (a graph being rewritten). */
export class Emitter extends OpEmitter {
  constructor(
    readonly b: GraphBuilder,
    readonly prefix: string,
  ) {
    super();
  }
}

/** Swaps the last two axes. */
function swapLast(e: OpEmitter, x: string): string {
  const r = e.rank(x);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return e.transpose(x, perm);
}

/**
 * Query blocks of x [..., S, n], one Slice each (itself when one block): a Split with one output
 * per block would exceed GPU providers' limit on buffers per shader (WebGPU: 8 to 16).
 */
function splitRows(e: OpEmitter, x: string, sizes: number[]): string[] {
  if (sizes.length === 1) return [x];
  const axis = e.rank(x) - 2;
  let at = 0;
  return sizes.map((rows) => {
    const block = e.op1('Slice', [x, e.ints([at]), e.ints([at + rows]), e.ints([axis])]);
    at += rows;
    return block;
  });
}

/** Concatenates along `axis` (itself when one part). */
function concat(e: OpEmitter, parts: string[], axis: number): string {
  return parts.length === 1 ? parts[0] : e.op1('Concat', parts, { axis });
}

/** c · x (x itself when c = 1). */
function scaled(e: OpEmitter, x: string, c: number): string {
  return c === 1 ? x : e.mul(x, e.scalar(c, x));
}

/**
 * The core's output by blocks of query rows, in standard ops and without control flow: the scale
 * goes into the queries (c·A, [lead, S, d]: far smaller than the scores), each block is
 * softmax(c·A_i·B)·V, the blocks are concatenated. Each block's probabilities have one consumer,
 * so whatever order the runtime runs the blocks in, one block's probabilities at a time are live.
 */
export function emitBlockedAttention(e: OpEmitter, c: AttentionCore, budget: number): string {
  const a = scaled(e, c.a, c.scale);
  const blocks = splitRows(e, a, queryBlocks(c, 2, budget));
  return concat(
    e,
    blocks.map((ai) => e.op1('MatMul', [e.op1('Softmax', [e.op1('MatMul', [ai, c.b])], { axis: -1 }), c.v])),
    c.lead.length,
  );
}
/**
 * The core's output through com.microsoft.MultiHeadAttention: queries [batch, S, heads·d], keys
 * and values [batch, T, heads·d] (3-D leading dims count as a batch of one-head attentions). With
 * `rowsPerCall`, one call per that many query rows (Slices of the queries, the outputs joined by
 * Concats of at most 8 inputs: WebGPU binds each as a storage buffer), e.g.
 * WEBGPU_EXACT_QUERY_BLOCK for a form exact on WebGPU (attention-webgpu.ts).
 */
export function emitFusedAttention(e: OpEmitter, c: AttentionCore, rowsPerCall = c.S): string {
  const [batch, heads] = c.lead.length === 2 ? c.lead : [numel(c.lead), 1];
  const lead4 = [batch, heads];
  const a = e.reshape(c.a, [...lead4, c.S, c.d]);
  const b = e.reshape(c.b, [...lead4, c.d, c.T]);
  const v = e.reshape(c.v, [...lead4, c.T, c.dv]);
  const q = e.reshape(e.transpose(a, [0, 2, 1, 3]), [batch, c.S, heads * c.d]);
  const k = e.reshape(e.transpose(b, [0, 3, 1, 2]), [batch, c.T, heads * c.d]);
  const vv = e.reshape(e.transpose(v, [0, 2, 1, 3]), [batch, c.T, heads * c.dv]);
  const outs: string[] = [];
  for (let at = 0; at < c.S; at += rowsPerCall) {
    const rows = Math.min(rowsPerCall, c.S - at);
    const qi = rows === c.S ? q : e.op1('Slice', [q, e.ints([at]), e.ints([at + rows]), e.ints([1])]);
    outs.push(e.b.opShaped(e.prefix, 'MultiHeadAttention', [qi, k, vv], { num_heads: heads, scale: c.scale }, [{ dtype: c.dtype, dims: [batch, rows, heads * c.dv] }], MS_DOMAIN)[0]);
  }
  let level = outs;
  while (level.length > 1) level = Array.from({ length: Math.ceil(level.length / 8) }, (_, i) => concat(e, level.slice(8 * i, 8 * i + 8), 1));
  const o = level[0];
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
 * probabilities from A and B (FlashAttention's backward over query blocks), in standard ops and
 * without control flow; `o` is the forward output. With A' = c·A (the scale folded into the
 * queries) and D = rowsum(dO ⊙ O), per block i:
 *   P = softmax(A'_i·B), dS = P ⊙ ([dO_i | −D_i]·[Vᵀ ; 1])   (dO_i·Vᵀ − D_i as one GEMM),
 *   dBᵀ += dSᵀ·A'_i, dV += Pᵀ·dO_i, dA_i = c·dS·Bᵀ.
 * Every GEMM over a block's [rows, T] tensors has rows or T as its inner dimension, except the
 * two that the maths fixes at the head width (A'_i·B, dO_i·Vᵀ); the heads of a core go in one
 * batched GEMM. The two with the block's rows inside take the large tensor transposed (ONNX
 * Runtime fuses the Transpose into the GEMM) so that T, not the head width, is the GEMM's M:
 * 17% faster per core than A'_iᵀ·dS and dO_iᵀ·P (SD 2-1's 9216-token cores, 2 CPU cores). A block's three products are concatenated into one small tensor before anything
 * else reads them, so all readers of its probabilities and score gradients come before that one
 * node: in any order the runtime picks, one block's [rows, T] tensors are live at a time.
 */
export function emitBlockedAttentionGrad(e: OpEmitter, c: AttentionCore, dO: string, want: { a: boolean; b: boolean; v: boolean }, budget: number): BlockedGradients {
  const sizes = queryBlocks(c, 3, budget);
  const axis = c.lead.length;
  const needS = want.a || want.b;
  const a = scaled(e, c.a, c.scale);
  const aBlocks = splitRows(e, a, sizes);
  let dOAug = '';
  let vAug = '';
  if (needS) {
    const negD = e.neg(e.reduceSum(e.mul(dO, c.out), [axis + 1], true));
    dOAug = concat(e, [dO, negD], axis + 1);
    const ones = e.expand(e.scalar(1, c.v), [...c.lead, 1, c.T]);
    vAug = concat(e, [swapLast(e, c.v), ones], axis);
  }
  const dOAugBlocks = needS ? splitRows(e, dOAug, sizes) : [];
  const dOBlocks = want.v ? splitRows(e, dO, sizes) : [];
  const bt = want.a ? swapLast(e, c.b) : '';
  const dBt: string[] = [];
  const dV: string[] = [];
  const dA: string[] = [];
  sizes.forEach((_rows, i) => {
    const p = e.op1('Softmax', [e.op1('MatMul', [aBlocks[i], c.b])], { axis: -1 });
    const ds = needS ? e.mul(p, e.op1('MatMul', [dOAugBlocks[i], vAug])) : '';
    const parts: { into: string[]; value: string }[] = [];
    if (want.b) parts.push({ into: dBt, value: e.op1('MatMul', [swapLast(e, ds), aBlocks[i]]) });
    if (want.v) parts.push({ into: dV, value: e.op1('MatMul', [swapLast(e, p), dOBlocks[i]]) });
    if (want.a) parts.push({ into: dA, value: e.op1('MatMul', [ds, bt]) });
    if (parts.length === 1 || sizes.length === 1) {
      for (const part of parts) part.into.push(part.value);
      return;
    }
    // one node reads all of the block's products (see above), then they go their ways
    const flat = parts.map((part) => e.reshape(part.value, [...c.lead, numel(e.shape(part.value).slice(axis))]));
    const joined = concat(e, flat, axis);
    let at = 0;
    const split = flat.map((f) => {
      const n = e.shape(f)[axis];
      at += n;
      return e.op1('Slice', [joined, e.ints([at - n]), e.ints([at]), e.ints([axis])]);
    });
    parts.forEach((part, k) => part.into.push(e.reshape(split[k], e.shape(part.value))));
  });
  const sum = (xs: string[]) => xs.reduce((acc, x) => e.add(acc, x));
  const out: BlockedGradients = {};
  if (want.b) out.b = swapLast(e, sum(dBt));
  if (want.v) out.v = sum(dV);
  if (want.a) out.a = scaled(e, concat(e, dA, axis), c.scale);
  return out;
}

export interface AttentionRewriteOptions {
  /** 'fused' (MultiHeadAttention), 'blocked' (standard ops), or 'plain' (leave as exported). */
  mode: 'fused' | 'blocked' | 'plain';
  /** Only cores whose probabilities take at least this many bytes are rewritten. */
  minBytes: number;
  /** Working memory per block for the 'blocked' form. */
  blockBytes: number;
  /**
   * The provider the rewritten graph's sessions run on. 'fused' falls back to the blocked form
   * for cores the provider's fused kernel computes inexactly (attention-webgpu.ts); unknown
   * (undefined): for cores any provider's kernel might (WebGPU's rule).
   */
  provider?: ProviderName;
}

export const ATTENTION_DEFAULTS: AttentionRewriteOptions = { mode: 'fused', minBytes: 64 * 2 ** 20, blockBytes: 256 * 2 ** 20 };

/**
 * The defaults for graphs whose sessions run on `provider` (undefined: not known yet), with the
 * form chosen by SD4MATCH_ATTENTION (fused, blocked or plain) when set.
 */
export function attentionOptions(provider?: ProviderName): AttentionRewriteOptions {
  const mode = process.env.SD4MATCH_ATTENTION;
  return { ...ATTENTION_DEFAULTS, ...(mode === 'fused' || mode === 'blocked' || mode === 'plain' ? { mode } : {}), ...(provider ? { provider } : {}) };
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
    const fused = o.mode === 'fused' && fusedAttentionIsExact(o.provider ?? 'webgpu', c);
    const e = new Emitter(b, `${c.nodes.at(-1)!.name}/${fused ? 'fused' : 'blocked'}_attention_${i}`);
    const result = fused ? emitFusedAttention(e, c) : emitBlockedAttention(e, c, o.blockBytes);
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
  if (g.nodes.some((n) => n.domain === MS_DOMAIN) && !m.opsets.some((x) => x.domain === MS_DOMAIN)) m.opsets = [...m.opsets, { domain: MS_DOMAIN, version: 1 }];
  validateGraph(g);
  return { model: m, rewritten: cores.length };
}

function opsetOf(m: Model): number {
  const op = m.opsets.find((x) => x.domain === '' || x.domain === 'ai.onnx');
  return op ? op.version : 17;
}

/**
 * Float16 graphs for GPU providers, and whether a provider can run them.
 *
 * `convertToFloat16` rewrites a float32 graph the way mixed-precision training frameworks run it
 * (PyTorch's autocast lists; onnxconverter-common's float16 converter does the ONNX side with a
 * node block list and casts at the block boundaries): the heavy ops (MatMul, Gemm, Conv,
 * ConvTranspose, Einsum, com.microsoft.MultiHeadAttention) compute in float16 with float16
 * weights; softmax, normalisation, reductions (the decomposed layer norm's means, the loss's sums
 * and means), Pow/Sqrt/Exp/Log and the trigonometry of timestep embeddings stay float32 — their
 * sums lose digits or overflow in float16 (65504 is float16's largest value, its epsilon 9.8e-4);
 * every other op computes in float32 when any of its non-constant float inputs is float32 and in
 * float16 otherwise (autocast's type promotion), so what starts float32 (graph inputs, the
 * outputs of the float32 ops) stays float32 until the next heavy op. Graph inputs and outputs stay
 * float32 (a Cast at the boundary), so callers feed and read float32 as before. Constants take
 * the type their consumers need, converted once here rather than cast at run time (finite values
 * beyond ±65504 clamped). Layer norms written op by op are first fused into one float32
 * LayerNormalization (see `fuseLayerNorms` for why ONNX Runtime's own fusion cannot be left to it).
 *
 * Weights in external-data files are read into memory to be converted: a float16 session holds
 * its weights in memory (half the bytes) instead of memory-mapping the float32 files.
 *
 * Training: gradient graphs go through the same pass (their reductions and the loss stay float32,
 * the gradient outputs are float32 at the boundary); the optimiser is a graph of its own
 * (training/adam.ts) that never goes through it, so its state and updates are float32.
 *
 * Control flow (Scan, Loop, If) runs in float32 whole: its inputs are cast to float32 and the
 * enclosing tensors its body reads by name are cast too (renamed inside the body).
 *
 * Whether a provider runs float16 is found by a probe (`probeFp16`): a tiny float16 model (MatMul,
 * Conv, Softmax) on the provider compared with float32 on the CPU. ONNX Runtime's WebGPU provider
 * registers its float16 kernels whatever the adapter, asks the device for `shader-f16` when the
 * adapter has it, and refuses to run a float16 program on a device without it ("requires f16 but
 * the device does not support it"): nodes are not moved to the CPU, the run fails, so a run that
 * succeeds and matches shows the feature is there. Where the products ran, and on what types, is
 * read from ONNX Runtime's profile (placement.ts): on the CPU they run in float32 (ONNX Runtime
 * casts float16 weights to float32 for kernels it lacks), so the CPU `computesInFloat16` is false.
 */
import { AppError } from '../../shared/errors.js';
import { dtypeCode, type DType } from './dtypes.js';
import { inferDtypes } from './dtype-infer.js';
import { nodeInputs, producerMap, subgraphFreeVars, topoSort, validateGraph } from './graph-utils.js';
import { cloneModel, type Graph, type Model, type Node, numel, readTensor, type TensorValue } from './ir.js';
import type { Precision, PrecisionChoice } from './precision.js';
import type { ProviderName } from './providers.js';

// ---------------------------------------------------------------------------------------------
// float16 numbers

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The largest finite float16. */
export const FLOAT16_MAX = 65504;

/** float16's machine epsilon (2^-10): the relative spacing of float16 numbers near 1. */
export const FLOAT16_EPSILON = 2 ** -10;

/** The float16 bit pattern nearest `v` (round half to even, subnormals kept; beyond ±65504 is ±Infinity). */
export function float16Bits(v: number): number {
  F32[0] = v;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // subnormal: the value in units of 2^-24, rounded half to even
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa steps the exponent, up to Infinity: still the nearest value
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** The number a float16 bit pattern holds. */
export function float16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * float32 values as float16 bits; finite values beyond ±65504 are clamped to it (as the ONNX
 * float16 converters do: an attention mask of -3.4e38 stays a large negative number, not -Inf)
 * and counted.
 */
export function toFloat16(values: ArrayLike<number>): { bits: Uint16Array; clamped: number } {
  const bits = new Uint16Array(values.length);
  let clamped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (Number.isFinite(v) && Math.abs(v) > FLOAT16_MAX) {
      v = Math.sign(v) * FLOAT16_MAX;
      clamped++;
    }
    bits[i] = float16Bits(v);
  }
  return { bits, clamped };
}

/** float16 bits as float32 values. */
export function fromFloat16(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16Value(bits[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// the graph pass

/** Ops that compute in float16: the matrix products and convolutions that hold the FLOPs and the weights. */
export const FP16_OPS: ReadonlySet<string> = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Einsum', 'com.microsoft.MultiHeadAttention']);

/**
 * Ops kept in float32 (the block list): softmax and normalisation (their sums), every reduction
 * (the decomposed layer norm's means, the loss's sums and means), the powers, roots, exponentials
 * and logarithms of the decomposed norms and the loss, the trigonometry of timestep embeddings
 * (sin(1000 · f) in float16 is off by a fraction of a radian), cumulative sums and ranges.
 */
export const FP32_OPS: ReadonlySet<string> = new Set([
  'Softmax',
  'LogSoftmax',
  'LayerNormalization',
  'GroupNormalization',
  'InstanceNormalization',
  'BatchNormalization',
  'MeanVarianceNormalization',
  'LpNormalization',
  'ReduceMean',
  'ReduceSum',
  'ReduceSumSquare',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceProd',
  'Pow',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Softplus',
  'Sin',
  'Cos',
  'Tan',
  'CumSum',
  'Range',
  'SoftmaxCrossEntropyLoss',
  'NegativeLogLikelihoodLoss',
]);

/** Ops that read their float input whatever its type (no cast is inserted before them). */
const TYPE_AGNOSTIC = new Set(['Shape', 'Size']);

/** Float inputs that are not of the op's compute type (Resize's roi and scales stay float32). */
const FIXED_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1], Dropout: [1] };

export interface Fp16Options {
  /** Node names, or names of tensors they produce, to keep in float32 (e.g. a loss's nodes). */
  keepFloat32?: Iterable<string>;
  /** More op types to keep in float32 (`domain.Op` for other domains). */
  blockOps?: Iterable<string>;
}

export interface Fp16Report {
  /** Nodes that compute in float16 / in float32 (nodes without float tensors are not counted). */
  fp16Nodes: number;
  fp32Nodes: number;
  /** Cast nodes inserted (boundaries between float16 and float32 regions, graph inputs and outputs). */
  casts: number;
  /** Constants converted to float16 / kept float32 / held in both types. */
  fp16Constants: number;
  fp32Constants: number;
  bothConstants: number;
  /** Constant values beyond ±65504 clamped to it. */
  clamped: number;
  /** Decomposed layer norms replaced by one float32 LayerNormalization each (see `fuseLayerNorms`). */
  fusedLayerNorms: number;
}

type Mode = 'fp16' | 'fp32' | 'none';

function opKey(n: Node): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
}

function hasSubgraph(n: Node): boolean {
  return Object.values(n.attrs).some((a) => a.type === 'graph');
}

/** A float32 tensor value as float16 (read into memory: external data is converted too). */
function tensorToFloat16(t: TensorValue, name: string): { value: TensorValue; clamped: number } {
  const host = readTensor(t);
  const { bits, clamped } = toFloat16(host.data as Float32Array);
  return { value: { name, dtype: 'float16', dims: [...t.dims], data: { kind: 'bytes', bytes: new Uint8Array(bits.buffer) } }, clamped };
}

/**
 * The model with float16 compute as described at the top of this file; the input model is not
 * changed (tensor payloads it keeps are shared). Graph inputs and outputs keep their float32 type.
 */
export function convertToFloat16(model: Model, options: Fp16Options = {}): { model: Model; report: Fp16Report } {
  const m = cloneModel(model);
  const g = m.graph;
  const keep = new Set(options.keepFloat32 ?? []);
  const blocked = new Set([...FP32_OPS, ...(options.blockOps ?? [])]);
  const report: Fp16Report = { fp16Nodes: 0, fp32Nodes: 0, casts: 0, fp16Constants: 0, fp32Constants: 0, bothConstants: 0, clamped: 0, fusedLayerNorms: 0 };

  constantsToInitializers(g);
  report.fusedLayerNorms = fuseLayerNorms(g);
  const dtypes = inferDtypes(g);
  const isF32 = (t: string) => !!t && dtypes.get(t) === 'float32';
  const isConst = (t: string) => g.initializers.has(t);

  const used = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const n of g.nodes) {
    used.add(n.name);
    for (const t of [...n.inputs, ...n.outputs]) if (t) used.add(t);
  }
  const unique = (base: string) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };

  // where each non-constant float32 tensor lives after the pass
  const home = new Map<string, 'float16' | 'float32'>();
  for (const i of g.inputs) if (i.dtype === 'float32') home.set(i.name, 'float32');
  // constants: the types their consumers want, and which input slots want float16
  const constWants = new Map<string, { fp16: { node: Node; slot: number }[]; fp32: boolean }>();
  const casts = new Map<string, string>();
  const out: Node[] = [];

  const castTo = (t: string, to: 'float16' | 'float32'): string => {
    const key = `${t}\u0000${to}`;
    let c = casts.get(key);
    if (!c) {
      c = unique(`${t}/to_${to}`);
      out.push({ name: unique(`${t}/Cast_${to}`), opType: 'Cast', domain: '', inputs: [t], outputs: [c], attrs: { to: { type: 'int', value: dtypeCode(to) } }, metadata: {} });
      casts.set(key, c);
      report.casts++;
    }
    return c;
  };

  const nodes = topoSort(g);
  for (const n of nodes) {
    const key = opKey(n);
    const fixed = new Set(FIXED_INPUTS[n.opType] && !n.domain ? FIXED_INPUTS[n.opType] : []);
    const floatSlots = n.inputs.map((t, i) => i).filter((i) => isF32(n.inputs[i]) && !fixed.has(i));
    const floatOuts = n.outputs.filter(isF32);
    const subgraph = hasSubgraph(n);
    let mode: Mode;
    if (floatSlots.length === 0 && floatOuts.length === 0 && !subgraph) mode = 'none';
    else if (TYPE_AGNOSTIC.has(key)) mode = 'none';
    else if (keep.has(n.name) || n.outputs.some((o) => keep.has(o)) || subgraph || blocked.has(key)) mode = 'fp32';
    else if (FP16_OPS.has(key)) mode = 'fp16';
    else if (n.domain && n.domain !== 'ai.onnx')
      mode = 'fp32'; // other domains' float16 kernels are unknown
    else {
      // type promotion: float32 wins over float16; a node fed only by constants is float32
      const dynamic = floatSlots.map((i) => n.inputs[i]).filter((t) => !isConst(t));
      mode = dynamic.length > 0 && dynamic.every((t) => home.get(t) === 'float16') ? 'fp16' : 'fp32';
    }
    if (mode === 'none') {
      out.push(n);
      continue;
    }
    const want = mode === 'fp16' ? 'float16' : 'float32';
    if (mode === 'fp16') report.fp16Nodes++;
    else report.fp32Nodes++;
    const inputs = [...n.inputs];
    // Cast reads any type: it keeps its input's type and casts to the other float type only in its `to`
    const castsAnything = n.opType === 'Cast' && !n.domain;
    for (const i of floatSlots) {
      const t = n.inputs[i];
      if (isConst(t)) {
        let w = constWants.get(t);
        if (!w) constWants.set(t, (w = { fp16: [], fp32: false }));
        if (want === 'float16' && !castsAnything) w.fp16.push({ node: n, slot: i });
        else w.fp32 = true;
      } else if (!castsAnything && home.get(t) !== want) {
        inputs[i] = castTo(t, want);
      }
    }
    // constants read where the type is fixed (Resize's scales) or by a body by name stay float32
    const fixedConsts = [...fixed].map((i) => n.inputs[i]);
    if (subgraph) fixedConsts.push(...Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? subgraphFreeVars(a.value) : [])));
    for (const t of fixedConsts) {
      if (!t || !isConst(t) || !isF32(t)) continue;
      const w = constWants.get(t);
      if (w) w.fp32 = true;
      else constWants.set(t, { fp16: [], fp32: true });
    }
    if (castsAnything) {
      const to = n.attrs.to;
      if (to && to.type === 'int' && to.value === dtypeCode('float32') && mode === 'fp16') n.attrs = { ...n.attrs, to: { type: 'int', value: dtypeCode('float16') } };
    }
    if (subgraph) castFreeVars(n, (t) => (isF32(t) && !isConst(t) && home.get(t) === 'float16' ? castTo(t, 'float32') : null));
    n.inputs = inputs;
    for (const o of floatOuts) home.set(o, want);
    out.push(n);
  }
  g.nodes = out;

  // constants: converted where every consumer computes in float16, doubled where both kinds read one
  for (const [name, w] of constWants) {
    const t = g.initializers.get(name)!;
    if (w.fp16.length === 0) {
      report.fp32Constants++;
      continue;
    }
    const fp16Name = w.fp32 ? unique(`${name}/fp16`) : name;
    const { value, clamped } = tensorToFloat16(t, fp16Name);
    report.clamped += clamped;
    g.initializers.set(fp16Name, value);
    if (w.fp32) {
      report.bothConstants++;
      for (const { node, slot } of w.fp16) node.inputs[slot] = fp16Name;
    } else {
      report.fp16Constants++;
    }
  }

  // graph outputs keep float32: a float16 result is cast back under the output's own name
  const prod = producerMap(g);
  for (const o of g.outputs) {
    if (home.get(o.name) !== 'float16') continue;
    const internal = unique(`${o.name}/fp16`);
    const p = prod.get(o.name)!;
    p.outputs = p.outputs.map((x) => (x === o.name ? internal : x));
    for (const n of g.nodes) if (n !== p) n.inputs = n.inputs.map((x) => (x === o.name ? internal : x));
    home.set(internal, 'float16');
    g.nodes.push({
      name: unique(`${o.name}/Cast_output`),
      opType: 'Cast',
      domain: '',
      inputs: [internal],
      outputs: [o.name],
      attrs: { to: { type: 'int', value: dtypeCode('float32') } },
      metadata: {},
    });
    report.casts++;
  }

  // declared value types follow (ONNX Runtime checks them against what the nodes produce)
  for (const [name, v] of g.valueInfo) {
    const h = home.get(name);
    if (h && v.dtype !== h) g.valueInfo.set(name, { ...v, dtype: h });
  }
  g.nodes = topoSort(g);
  validateGraph(g);
  m.metadata = { ...m.metadata, 'sd4match.precision': 'fp16' };
  return { model: m, report };
}

/** Float32 Constant nodes become initializers, so that constants are handled one way. */
function constantsToInitializers(g: Graph): void {
  const keep: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Constant' || n.domain) {
      keep.push(n);
      continue;
    }
    const a = n.attrs;
    let value: TensorValue | null = null;
    if (a.value?.type === 'tensor' && a.value.value.dtype === 'float32') value = { ...a.value.value, name: n.outputs[0] };
    else if (a.value_float?.type === 'float') value = floatTensor(n.outputs[0], [a.value_float.value], []);
    else if (a.value_floats?.type === 'floats') value = floatTensor(n.outputs[0], a.value_floats.value, [a.value_floats.value.length]);
    if (value) g.initializers.set(n.outputs[0], value);
    else keep.push(n);
  }
  g.nodes = keep;
}

/** The values of a small float32 constant, or null. */
function constValues(g: Graph, name: string): number[] | null {
  const t = g.initializers.get(name);
  if (!t || t.dtype !== 'float32' || numel(t.dims) > 1 << 16) return null;
  return Array.from(readTensor(t).data as Float32Array);
}

function constInt64s(g: Graph, name: string): number[] | null {
  const t = g.initializers.get(name);
  if (!t || t.dtype !== 'int64') return null;
  return Array.from(readTensor(t).data as BigInt64Array, Number);
}

/**
 * Replaces each layer norm exporters write op by op — ReduceMean, Sub, Pow 2, ReduceMean, Add ε,
 * Sqrt, Div, Mul γ, Add β over the last axis, γ and β 1-D constants — by one LayerNormalization
 * (float32 statistics), before types are assigned. Left alone, ONNX Runtime fuses the pattern
 * itself and swallows the float16-to-float32 Cast in front of it: the fused node then reads
 * float16 with float32 scale and bias, which its WebGPU kernel fails on ("raw_hash_map::at",
 * onnxruntime-node 1.30). Returns how many were fused.
 */
function fuseLayerNorms(g: Graph): number {
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const only = (t: string, op: string): Node | null => {
    const c = consumers.get(t);
    return !outputs.has(t) && c && c.length === 1 && c[0].opType === op && !c[0].domain ? c[0] : null;
  };
  const lastAxis = (n: Node): boolean => {
    const a = n.attrs.axes;
    const axes = a && a.type === 'ints' ? a.value : n.inputs[1] ? constInt64s(g, n.inputs[1]) : null;
    const keep = n.attrs.keepdims;
    return !!axes && axes.length === 1 && axes[0] === -1 && !(keep && keep.type === 'int' && keep.value === 0);
  };
  const other = (n: Node, t: string) => (n.inputs[0] === t ? n.inputs[1] : n.inputs[0]);
  const vector = (t: string) => {
    const v = g.initializers.get(t);
    return v && v.dtype === 'float32' && v.dims.length === 1 ? v : null;
  };
  const removed = new Set<Node>();
  const replace = new Map<Node, Node>();
  let fused = 0;
  for (const mean of g.nodes) {
    if (mean.opType !== 'ReduceMean' || mean.domain || removed.has(mean) || !lastAxis(mean)) continue;
    const x = mean.inputs[0];
    const subs = consumers.get(mean.outputs[0]) ?? [];
    if (outputs.has(mean.outputs[0]) || subs.length === 0 || subs.length > 2 || subs.some((s) => s.opType !== 'Sub' || s.inputs[0] !== x || s.inputs[1] !== mean.outputs[0])) continue;
    // one Sub feeds Pow and Div, or (older exports) two identical Subs feed one each
    const users = subs.flatMap((s) => (consumers.get(s.outputs[0]) ?? []).map((u) => ({ s, u })));
    if (subs.some((s) => outputs.has(s.outputs[0])) || users.length !== 2) continue;
    const pow = users.find((e) => e.u.opType === 'Pow')?.u;
    const divEdge = users.find((e) => e.u.opType === 'Div');
    if (!pow || !divEdge || pow.inputs[0] === pow.inputs[1] || constValues(g, pow.inputs[1])?.[0] !== 2 || divEdge.u.inputs[0] !== divEdge.s.outputs[0]) continue;
    const mean2 = only(pow.outputs[0], 'ReduceMean');
    if (!mean2 || !lastAxis(mean2)) continue;
    const addEps = only(mean2.outputs[0], 'Add');
    const eps = addEps && constValues(g, other(addEps, mean2.outputs[0]));
    if (!addEps || !eps || eps.length !== 1) continue;
    const sqrt = only(addEps.outputs[0], 'Sqrt');
    if (!sqrt || only(sqrt.outputs[0], 'Div') !== divEdge.u || divEdge.u.inputs[1] !== sqrt.outputs[0]) continue;
    const mul = only(divEdge.u.outputs[0], 'Mul');
    const gamma = mul && vector(other(mul, divEdge.u.outputs[0]));
    if (!mul || !gamma) continue;
    const add = only(mul.outputs[0], 'Add');
    const beta = add && vector(other(add, mul.outputs[0]));
    if (!add || !beta || beta.dims[0] !== gamma.dims[0]) continue;
    const pattern = [mean, ...subs, pow, mean2, addEps, sqrt, divEdge.u, mul, add];
    for (const n of pattern) removed.add(n);
    replace.set(add, {
      name: `${add.name}/LayerNormalization`,
      opType: 'LayerNormalization',
      domain: '',
      inputs: [x, gamma.name, beta.name],
      outputs: [add.outputs[0]],
      attrs: { axis: { type: 'int', value: -1 }, epsilon: { type: 'float', value: eps[0] }, stash_type: { type: 'int', value: 1 } },
      metadata: { ...add.metadata },
    });
    fused++;
  }
  if (fused) g.nodes = g.nodes.flatMap((n) => (replace.has(n) ? [replace.get(n)!] : removed.has(n) ? [] : [n]));
  for (const n of removed) for (const o of n.outputs) if (!replace.has(n)) g.valueInfo.delete(o);
  // the pattern's own constants (ε, the exponent, the axes) go when nothing else reads them
  const read = new Set(g.nodes.flatMap((n) => nodeInputs(n)));
  for (const n of removed) for (const i of n.inputs) if (i && g.initializers.has(i) && !read.has(i)) g.initializers.delete(i);
  return fused;
}

function floatTensor(name: string, values: number[], dims: number[]): TensorValue {
  return { name, dtype: 'float32', dims, data: { kind: 'bytes', bytes: new Uint8Array(Float32Array.from(values).buffer) } };
}

/**
 * A control-flow node runs in float32: tensors of the enclosing graph its bodies read by name
 * that became float16 are read through a float32 cast (renamed inside the bodies). A body whose
 * own nested bodies read such a tensor is refused (one level of renaming is all this does).
 */
function castFreeVars(n: Node, castOf: (t: string) => string | null): void {
  for (const [k, a] of Object.entries(n.attrs)) {
    if (a.type !== 'graph') continue;
    const renames = new Map<string, string>();
    for (const v of subgraphFreeVars(a.value)) {
      const c = castOf(v);
      if (c) renames.set(v, c);
    }
    if (renames.size === 0) continue;
    const body: Graph = { ...a.value, nodes: a.value.nodes.map((b) => ({ ...b, inputs: b.inputs.map((i) => renames.get(i) ?? i) })) };
    for (const b of body.nodes) {
      for (const inner of Object.values(b.attrs)) {
        if (inner.type !== 'graph') continue;
        const hit = subgraphFreeVars(inner.value).find((v) => renames.has(v));
        if (hit) {
          throw new AppError(
            'ONNX_UNSUPPORTED',
            `float16 conversion: node '${b.name}' nested in '${n.name}' (${n.opType}) reads '${hit}' of the outer graph, which becomes float16; nested control flow reading float16 tensors is not supported (use --precision fp32)`,
          );
        }
      }
    }
    if (body.outputs.some((o) => renames.has(o.name))) {
      throw new AppError(
        'ONNX_UNSUPPORTED',
        `float16 conversion: the body of '${n.name}' (${n.opType}) returns the outer tensor '${body.outputs.find((o) => renames.has(o.name))!.name}' unchanged; not supported (use --precision fp32)`,
      );
    }
    n.attrs = { ...n.attrs, [k]: { type: 'graph', value: body } };
  }
}

// ---------------------------------------------------------------------------------------------
// can this provider run float16?

export interface Fp16Probe {
  /** The provider asked for. */
  provider: ProviderName;
  /** The provider the probe's session ran on (another one means the provider did not load). */
  ranOn: ProviderName | null;
  /** The float16 model ran there and matched float32 within PROBE_TOLERANCE. */
  ok: boolean;
  /**
   * Its MatMul and Conv ran on the provider with float16 inputs (ONNX Runtime's profile). False on
   * the CPU: it has no float16 MatMul or Conv kernels, so ONNX Runtime casts their weights to
   * float32 at load (`InsertedPrecisionFreeCast_*` nodes) and computes in float32.
   */
  computesInFloat16: boolean;
  /** Relative L2 error of the float16 run against float32 on the CPU, per output. */
  relErr?: Record<string, number>;
  /** Why float16 cannot be used there, or what was found. */
  reason: string;
}

/** The probe's outputs must match float32 within this relative L2 error (float16 rounds at 4.9e-4; a few roundings per value). */
export const PROBE_TOLERANCE = 1e-2;

/** The probe model: y = softmax(x·W) over a MatMul, and c = Conv(img, K), in float32 (the pass makes it float16). */
export function fp16ProbeModel(): Model {
  const W = Float32Array.from({ length: 16 * 8 }, (_, i) => Math.sin(i) * 0.3);
  const K = Float32Array.from({ length: 4 * 2 * 3 * 3 }, (_, i) => Math.cos(i) * 0.2);
  const node = (name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name, opType, domain: '', inputs, outputs, attrs, metadata: {} });
  return {
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'sd4match',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: 'fp16-probe',
    graph: {
      name: 'fp16_probe',
      nodes: [
        node('mm', 'MatMul', ['x', 'W'], ['y']),
        node('relu', 'Relu', ['y'], ['r']),
        node('sm', 'Softmax', ['r'], ['s'], { axis: { type: 'int', value: -1 } }),
        node('conv', 'Conv', ['img', 'K'], ['c'], { pads: { type: 'ints', value: [1, 1, 1, 1] } }),
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [4, 16] },
        { name: 'img', dtype: 'float32', shape: [1, 2, 5, 5] },
      ],
      outputs: [
        { name: 's', dtype: 'float32', shape: [4, 8] },
        { name: 'r', dtype: 'float32', shape: [4, 8] },
        { name: 'c', dtype: 'float32', shape: [1, 4, 5, 5] },
      ],
      initializers: new Map([
        ['W', floatTensorOf('W', W, [16, 8])],
        ['K', floatTensorOf('K', K, [4, 2, 3, 3])],
      ]),
      valueInfo: new Map(),
    },
  };
}

function floatTensorOf(name: string, data: Float32Array, dims: number[]): TensorValue {
  if (data.length !== numel(dims)) throw new Error(`tensor '${name}' needs ${numel(dims)} values`);
  return { name, dtype: 'float32', dims, data: { kind: 'bytes', bytes: new Uint8Array(data.buffer) } };
}

function relErrOf(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

const probes = new Map<ProviderName, Promise<Fp16Probe>>();

/**
 * Runs the probe model in float16 on `provider` and in float32 on the CPU (once per process and
 * provider) and compares them. A provider that does not load, a run that fails (WebGPU without
 * `shader-f16`), or outputs beyond PROBE_TOLERANCE say why in `reason`.
 */
export function probeFp16(provider: ProviderName): Promise<Fp16Probe> {
  let p = probes.get(provider);
  if (!p) {
    p = runProbe(provider);
    probes.set(provider, p);
  }
  return p;
}

async function runProbe(provider: ProviderName): Promise<Fp16Probe> {
  // runtime.ts loads the native module: imported here, so the pass stays usable without it
  const { createModelSession } = await import('./runtime.js');
  const { placementOf } = await import('./placement.js');
  const f32 = fp16ProbeModel();
  const f16 = convertToFloat16(f32).model;
  const feeds = {
    x: { dtype: 'float32' as DType, dims: [4, 16], data: Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.7)) },
    img: { dtype: 'float32' as DType, dims: [1, 2, 5, 5], data: Float32Array.from({ length: 50 }, (_, i) => Math.cos(i * 0.3)) },
  };
  const failed = (ranOn: ProviderName | null, reason: string, relErr?: Record<string, number>): Fp16Probe => ({
    provider,
    ranOn,
    ok: false,
    computesInFloat16: false,
    reason,
    ...(relErr ? { relErr } : {}),
  });
  const ref = await createModelSession(f32, { providers: ['cpu'], lean: false });
  let expected;
  try {
    expected = await ref.run(feeds);
  } finally {
    await ref.dispose();
  }
  let session;
  try {
    session = await createModelSession(f16, { providers: [provider], lean: false });
  } catch (e) {
    return failed(null, `the ${provider} provider cannot load a float16 model: ${(e as Error).message}`);
  }
  const relErr: Record<string, number> = {};
  try {
    if (session.provider !== provider) {
      const why = session.attempts.find((a) => a.provider === provider)?.reason ?? 'it did not load';
      return failed(session.provider, `the ${provider} provider is not available here (${why})`);
    }
    let got;
    try {
      got = await session.run(feeds);
    } catch (e) {
      // WebGPU without shader-f16: "Program ... requires f16 but the device does not support it"
      return failed(provider, `the ${provider} provider cannot run float16 kernels: ${(e as Error).message}`);
    }
    for (const k of Object.keys(expected)) relErr[k] = relErrOf(got[k].data as Float32Array, expected[k].data as Float32Array);
  } finally {
    await session.dispose();
  }
  const worst = Math.max(...Object.values(relErr));
  if (!(worst <= PROBE_TOLERANCE)) return failed(provider, `float16 results on ${provider} differ from float32 by ${worst.toExponential(2)} (relative), above ${PROBE_TOLERANCE}`, relErr);
  // where the products ran, and on what: a provider may leave float16 nodes to the CPU, or compute them in float32
  const placed = (await placementOf(f16, provider, { feeds, session: { lean: false } })).nodes.filter((n) => /MatMul|Conv/.test(n.opType));
  const onProvider = placed.length >= 2 && placed.every((n) => n.provider === provider);
  const inFloat16 = onProvider && placed.every((n) => n.inputTypes.length > 0 && n.inputTypes.every((t) => t === 'float16'));
  const where = placed.map((n) => `${n.opType} on ${n.provider} (${n.inputTypes.join(', ')})`).join(', ');
  const reason = inFloat16
    ? `float16 MatMul and Conv run on ${provider} within ${worst.toExponential(2)} of float32`
    : `${provider} has no float16 MatMul/Conv kernels of its own: ${where}; the float16 graph runs within ${worst.toExponential(2)} of float32 but computes in float32`;
  return { provider, ranOn: provider, ok: true, computesInFloat16: inFloat16, relErr, reason };
}

/** Whether `provider` computes in float16, as its probe found: the probe ran there, matched float32, and its MatMul and Conv ran on the provider in float16. */
export function fp16Supported(provider: ProviderName, probe: Fp16Probe): boolean {
  return probe.provider === provider && probe.ranOn === provider && probe.ok && probe.computesInFloat16;
}

/**
 * What a precision choice means for sessions on `provider`: `fp32` is float32; `auto` is float16
 * on a GPU provider that computes in float16 (`fp16Supported`), float32 on the CPU and elsewhere
 * (with the reason); `fp16` is float16 wherever the float16 graph runs and matches (the CPU
 * included, where ONNX Runtime computes the products in float32 from float16 weights: the reason
 * says so) and refused otherwise, saying why (`where` names the setting in the message).
 */
export async function resolvePrecision(choice: PrecisionChoice, provider: ProviderName, where = '--precision'): Promise<{ precision: Precision; reason: string }> {
  if (choice === 'fp32') return { precision: 'fp32', reason: 'float32 asked for' };
  if (choice === 'auto' && provider === 'cpu') return { precision: 'fp32', reason: "auto: the CPU runs float32 (ONNX Runtime's CPU has no float16 MatMul or Conv kernels)" };
  const probe = await probeFp16(provider);
  if (choice === 'auto') return fp16Supported(provider, probe) ? { precision: 'fp16', reason: probe.reason } : { precision: 'fp32', reason: `auto: ${probe.reason}` };
  if (probe.ok && probe.ranOn === provider) return { precision: 'fp16', reason: probe.reason };
  throw new AppError('INVALID_ARGUMENT', `${where} fp16: ${probe.reason}; use fp32 or auto`);
}

/**
 * Where every node of a graph runs: which execution provider ONNX Runtime gave each node, as ONNX
 * Runtime itself reports it. A session is opened with the options the workstation uses for that
 * graph, run once with the session profiler on, and the profile's node events (each carries
 * `op_name` and `provider`) are read back.
 *
 * The profile rather than the verbose "Node placements" log: the log is printed by the native
 * library on the process's stderr (out of reach in-process), while the profile is a JSON file the
 * session writes where we ask. What it lists is the graph ONNX Runtime ran: after its optimizers,
 * so fused nodes (`FusedConv`, `SkipLayerNormalization`...) appear under their new op types and
 * names, folded constants are gone, and the copies it inserts between providers (`MemcpyToHost`,
 * `MemcpyFromHost`) are there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { allocTypedArray, type DType } from './dtypes.js';
import type { HostTensor, Model } from './ir.js';
import type { ProviderName } from './providers.js';
import { createModelSession, createSession, type Session, type SessionOptions } from './runtime.js';

/** One node of the graph ONNX Runtime ran, and the provider that ran it. */
export interface PlacedNode {
  name: string;
  opType: string;
  /** A provider name of ours (`cpu`, `webgpu`...) or ONNX Runtime's own for one we do not know. */
  provider: string;
  /** Element types of the node's inputs and outputs as the profile gives them (`float`, `int64`...). */
  inputTypes: string[];
  outputTypes: string[];
}

/** Per op type: how many of its nodes ran on each provider. */
export type OpTypeCounts = Record<string, Record<string, number>>;

export interface Placement {
  /** The provider the session was opened for. */
  provider: ProviderName;
  nodes: PlacedNode[];
  byOpType: OpTypeCounts;
}

export interface PlacementOptions {
  /** Feeds for the profiled run; inputs not given are synthesised (see `syntheticFeed`). */
  feeds?: Record<string, HostTensor>;
  /** Concrete shapes for inputs with symbolic dimensions (synthesised feeds). */
  shapes?: Record<string, number[]>;
  /** The session options the workstation uses for this graph (providers aside). */
  session?: Omit<SessionOptions, 'providers' | 'profileFilePrefix'>;
}

/** ONNX Runtime's execution-provider types, as the profile names them, in our vocabulary. */
const ORT_PROVIDERS: Record<string, ProviderName> = {
  CPUExecutionProvider: 'cpu',
  WebGpuExecutionProvider: 'webgpu',
  CUDAExecutionProvider: 'cuda',
  TensorrtExecutionProvider: 'tensorrt',
  DmlExecutionProvider: 'dml',
  CoreMLExecutionProvider: 'coreml',
};

/** A profile event of ONNX Runtime's session profiler (the fields we read). */
interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * The nodes of a profile (the JSON `endProfiling` writes), each once: a node inside a loop body
 * runs, and is profiled, once per iteration.
 */
export function placedNodesOf(profile: unknown): PlacedNode[] {
  if (!Array.isArray(profile)) throw new AppError('RUNTIME_ERROR', 'the ONNX Runtime profile is not a list of events');
  const seen = new Map<string, PlacedNode>();
  for (const e of profile as ProfileEvent[]) {
    if (e.cat !== 'Node' || !e.name?.endsWith(KERNEL_SUFFIX) || !e.args?.op_name || !e.args.provider) continue;
    const name = e.name.slice(0, -KERNEL_SUFFIX.length);
    if (seen.has(name)) continue;
    const types = (list?: Record<string, number[]>[]) => (list ?? []).flatMap((o) => Object.keys(o));
    seen.set(name, {
      name,
      opType: e.args.op_name,
      provider: ORT_PROVIDERS[e.args.provider] ?? e.args.provider,
      inputTypes: types(e.args.input_type_shape),
      outputTypes: types(e.args.output_type_shape),
    });
  }
  return [...seen.values()];
}

/** Counts per op type and provider. */
export function countByOpType(nodes: readonly PlacedNode[]): OpTypeCounts {
  const out: OpTypeCounts = {};
  for (const n of nodes) {
    const row = (out[n.opType] ??= {});
    row[n.provider] = (row[n.provider] ?? 0) + 1;
  }
  return out;
}

/**
 * A feed for an input the caller did not give: small deterministic values for floats (no zeros,
 * which some graphs divide by or take the log of), zeros for integers (valid indices, ids and
 * timesteps). Placement does not depend on values; a run needs them.
 */
export function syntheticFeed(name: string, dtype: string, dims: readonly number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = allocTypedArray(dtype as DType, n);
  if (data instanceof Float32Array || data instanceof Float64Array) for (let i = 0; i < n; i++) data[i] = 0.1 + 0.5 * (((i * 7919) % 97) / 97);
  return { dtype: dtype as HostTensor['dtype'], dims: [...dims], data };
}

function feedsFor(session: Session, o: PlacementOptions): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = { ...o.feeds };
  for (const meta of session.ort.inputMetadata) {
    if (feeds[meta.name]) continue;
    if (!meta.isTensor) throw new AppError('INVALID_ARGUMENT', `input '${meta.name}' is not a tensor: give its feed`);
    const given = o.shapes?.[meta.name];
    const dims = given ?? meta.shape.map((d) => (typeof d === 'number' ? d : NaN));
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new AppError('INVALID_ARGUMENT', `input '${meta.name}' has symbolic dimensions [${meta.shape.join(', ')}]: give its shape or its feed to profile the graph`);
    }
    feeds[meta.name] = syntheticFeed(meta.name, meta.type, dims);
  }
  return feeds;
}

/**
 * Where every node of `model` (an in-memory model, a file or serialized bytes) runs when its
 * session is opened for `provider`: one profiled run on the given or synthesised feeds. The
 * provider is asked for by name (no fallback): a provider that cannot run here is an error.
 */
export async function placementOf(model: Model | string | Uint8Array, provider: ProviderName, o: PlacementOptions = {}): Promise<Placement> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-placement-'));
  try {
    const options: SessionOptions = { ...o.session, providers: provider, profileFilePrefix: path.join(dir, 'profile') };
    const session = typeof model === 'string' || model instanceof Uint8Array ? await createSession(model, options) : await createModelSession(model, options);
    try {
      await session.run(feedsFor(session, o));
      session.ort.endProfiling();
    } finally {
      await session.dispose();
    }
    const file = fs.readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!file) throw new AppError('RUNTIME_ERROR', `ONNX Runtime wrote no profile into ${dir} (is SD4MATCH_ORT_PROFILE set? it takes over the profile's file name)`);
    const nodes = placedNodesOf(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    return { provider: session.provider, nodes, byOpType: countByOpType(nodes) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Op types that carry a graph's arithmetic: a GPU provider that leaves one of them to the CPU
 * copies activations across the bus and back (ONNX Runtime inserts MemcpyToHost/MemcpyFromHost
 * around it). Fused forms ONNX Runtime's optimizers make of them are listed too.
 */
export const GPU_OP_TYPES: ReadonlySet<string> = new Set([
  // matrix products and convolutions
  'Conv',
  'ConvTranspose',
  'MatMul',
  'Gemm',
  'FusedConv',
  'FusedMatMul',
  'MatMulNBits',
  // attention (com.microsoft)
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  // normalisation
  'LayerNormalization',
  'GroupNormalization',
  'InstanceNormalization',
  'SkipLayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'BatchNormalization',
  'GroupNorm',
  'Softmax',
  'LogSoftmax',
  // elementwise
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Sqrt',
  'Erf',
  'Exp',
  'Log',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Neg',
  'Abs',
  'Reciprocal',
  'Where',
  'Cast',
  'Clip',
  'Sum',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'BiasAdd',
  'BiasSplitGelu',
]);

/** Ops that read only their input's shape, never its data. */
const SHAPE_READERS = new Set(['Shape', 'Size']);

const INTEGER_TYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint64', 'uint32', 'uint16', 'uint8', 'bool']);

/**
 * Why a node that did not run on the session's provider is acceptable there, or null when it is
 * not (a node of `GPU_OP_TYPES` on floats). One line each, the report prints them.
 */
export function acceptedFallback(n: PlacedNode): string | null {
  if (n.opType === 'MemcpyToHost' || n.opType === 'MemcpyFromHost') return 'a copy ONNX Runtime inserts between providers';
  if (SHAPE_READERS.has(n.opType)) return 'reads only a shape: ONNX Runtime keeps shape computations on the CPU on purpose';
  if (n.inputTypes.length > 0 && n.inputTypes.every((t) => INTEGER_TYPES.has(t))) {
    return 'integer/bool inputs only (shapes, indices): GPU kernels take no 64-bit integers (WGSL has none); small tensors, run on the CPU';
  }
  if (!GPU_OP_TYPES.has(n.opType)) return 'not an arithmetic op of the allow-list';
  return null;
}

/** Nodes of `GPU_OP_TYPES` that did not run on the session's provider, without an accepted reason. */
export function offendersOf(p: Placement): PlacedNode[] {
  return p.nodes.filter((n) => n.provider !== p.provider && acceptedFallback(n) === null);
}

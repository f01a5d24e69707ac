/**
 * The one binding to onnxruntime-node: session creation with execution-provider choice and a
 * clean fallback to CPU (onnxruntime-node throws on an unavailable provider instead of falling
 * back), and conversion between host tensors and ORT tensors.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { AppError } from '../../shared/errors.js';
import type { HostTensor, Model } from './ir.js';
import { encodeModel, saveModel } from './model-io.js';

export type ProviderName = 'cuda' | 'tensorrt' | 'dml' | 'coreml' | 'webgpu' | 'cpu';

export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

// ORT's default logger prints every failed provider load as an error; failures are reported
// through our own attempts list instead.
ort.env.logLevel = 'fatal';

const ORT_BIN_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);

/** Reasons a provider cannot work here, found without loading it (loading prints native noise). */
function preflight(provider: ProviderName): string | null {
  if (provider === 'cuda' || provider === 'tensorrt') {
    const lib = process.platform === 'win32' ? `onnxruntime_providers_${provider}.dll` : `libonnxruntime_providers_${provider}.so`;
    if (!fs.existsSync(path.join(ORT_BIN_DIR, lib))) {
      return `${provider} provider libraries are not installed (see README: GPU execution providers)`;
    }
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];
    if (!dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return 'the Vulkan loader (libvulkan1) is not installed';
  }
  return null;
}

/** Providers that failed once in this process are not tried again (their reason is kept). */
const failedProviders = new Map<ProviderName, string>();

/** Providers worth trying on this platform, fastest first; CPU always last. */
export function platformProviders(): ProviderName[] {
  const bundled = new Set(ort.listSupportedBackends().map((b) => b.name));
  const list: ProviderName[] = [];
  const consider = (p: ProviderName) => {
    if (bundled.has(p)) list.push(p);
  };
  if (process.platform === 'linux' && process.arch === 'x64') {
    consider('tensorrt');
    consider('cuda');
  }
  if (process.platform === 'win32') consider('dml');
  if (process.platform === 'darwin') consider('coreml');
  consider('webgpu');
  list.push('cpu');
  return list;
}

export interface ProviderAttempt {
  provider: ProviderName;
  ok: boolean;
  reason?: string;
}

export interface SessionOptions {
  /** Providers to try in order; 'auto' = platformProviders(). CPU is appended if missing. */
  providers?: ProviderName[] | 'auto';
  intraOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Keep the CPU memory arena (faster repeated runs of small graphs, more resident memory). */
  memArena?: boolean;
  /**
   * Large models (the default): weights stay memory-mapped from their external-data files and
   * activations are returned to the system after each run. See `LEAN_SESSION` below.
   */
  lean?: boolean;
  /**
   * Let ONNX Runtime fold constant subgraphs (default true). Gradient graphs compute transformed
   * weights (a flipped kernel) from the weights: folding would store a copy of each.
   */
  constantFolding?: boolean;
}

/**
 * How large models are loaded: ONNX Runtime memory-maps external data it can map, and uses the
 * mapped pages in place unless a kernel repacks the weights. Prepacking (MatMul) and the NCHWc
 * layout transformer (Conv, graph optimization level 'all') would make private copies, so lean
 * sessions disable both; measured on SD 2-1's UNet at 768 px on 2 CPU cores the speed is the same
 * (10-11 s per image either way) while session creation drops from 10 s to 0.4 s and the weights
 * are held once: every session of the same model part maps the same file, so the physical pages
 * are shared within the process, with other processes and with the page cache. The CPU arena and
 * memory patterns are off too: activations go back to the system after each run instead of
 * staying reserved (a second run of the 768 px training graph otherwise grew from 8 to 13 GB).
 */
const LEAN_SESSION = { graphOptimizationLevel: 'extended', enableCpuMemArena: false, enableMemPattern: false } as const;

export interface Session {
  readonly ort: ort.InferenceSession;
  readonly provider: ProviderName;
  /** Why faster providers were not used (empty when the first choice worked). */
  readonly attempts: ProviderAttempt[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

/** Short, single-line reason from a provider failure (ORT messages carry source paths and log noise). */
function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n').find((l) => l.trim().length > 0) ?? msg;
  if (/Failed to load shared library|cannot open shared object|libonnxruntime_providers/.test(msg)) {
    return 'provider libraries are not installed';
  }
  if (/WebGPU adapter/.test(msg)) return 'no WebGPU adapter (GPU driver or Vulkan loader missing)';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Whether ONNX Runtime's worker threads spin after a run waiting for the next one ('1') or sleep
 * ('0', our default). Spinning burns a core for tens of milliseconds after every run: it pays
 * off for one session run back to back, but the workstation has several sessions taking turns
 * (VAE, text encoder, UNet step graph) next to the UI on the same cores, where it slows both
 * (`bench train`: steps 15-30% faster without). SD4MATCH_ORT_SPIN=1 turns it back on.
 */
export function spinning(): '0' | '1' {
  return process.env.SD4MATCH_ORT_SPIN === '1' ? '1' : '0';
}

/** Creates a session from a model file path or serialized bytes. */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
  const wanted = options.providers === undefined || options.providers === 'auto' ? platformProviders() : [...options.providers];
  if (!wanted.includes('cpu')) wanted.push('cpu');
  const attempts: ProviderAttempt[] = [];
  for (const provider of wanted) {
    const known = provider === 'cpu' ? null : (failedProviders.get(provider) ?? preflight(provider));
    if (known) {
      failedProviders.set(provider, known);
      attempts.push({ provider, ok: false, reason: known });
      continue;
    }
    const lean = options.lean ?? true;
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: options.graphOptimization ?? (lean ? LEAN_SESSION.graphOptimizationLevel : 'all'),
      enableCpuMemArena: options.memArena ?? (lean ? LEAN_SESSION.enableCpuMemArena : true),
      enableMemPattern: lean ? LEAN_SESSION.enableMemPattern : true,
      logSeverityLevel: 3,
    };
    if (options.intraOpThreads) so.intraOpNumThreads = options.intraOpThreads;
    const session: Record<string, unknown> = { intra_op: { allow_spinning: spinning() }, inter_op: { allow_spinning: spinning() } };
    if (lean) session.disable_prepacking = '1';
    so.extra = { session };
    if (options.constantFolding === false) so.extra.optimization = { disable_specified_optimizers: 'ConstantFolding' };
    try {
      const s =
        typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(model, so);
      attempts.push({ provider, ok: true });
      return wrap(s, provider, attempts);
    } catch (e) {
      attempts.push({ provider, ok: false, reason: shortReason(e) });
      if (provider !== 'cpu' && !isModelError(e)) failedProviders.set(provider, shortReason(e));
      if (provider === 'cpu') {
        throw new AppError('RUNTIME_ERROR', `ONNX Runtime cannot load the model: ${shortReason(e)}`, String(e));
      }
    }
  }
  throw new AppError('RUNTIME_ERROR', 'no execution provider could load the model');
}

/** Errors that are about the model, not the provider (the CPU attempt will report them). */
function isModelError(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /INVALID_GRAPH|INVALID_PROTOBUF|NOT_IMPLEMENTED|Load model|ShapeInferenceError|TypeInferenceError/.test(msg);
}

function wrap(s: ort.InferenceSession, provider: ProviderName, attempts: ProviderAttempt[]): Session {
  return {
    ort: s,
    provider,
    attempts,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds, outputs) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
      let res: ort.InferenceSession.OnnxValueMapType;
      try {
        res = outputs ? await s.run(ortFeeds, outputs) : await s.run(ortFeeds);
      } catch (e) {
        throw new AppError('RUNTIME_ERROR', `ONNX Runtime failed to run the graph: ${shortReason(e)}`, String(e));
      }
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v as ort.Tensor);
      return out;
    },
    async dispose() {
      await s.release();
    },
  };
}

export function toOrt(t: HostTensor): ort.Tensor {
  // ORT's tensor constructor takes the carrier arrays we use (BigInt64Array for int64, Uint8Array for bool).
  return new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as never, t.dims);
}

export function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as HostTensor['dtype'], dims: [...t.dims], data: t.data as HostTensor['data'] };
}

/** What the status bar and run records show about the runtime. */
export interface RuntimeInfo {
  ortVersion: string;
  platform: string;
  cpus: number;
  providers: { name: string; bundled: boolean }[];
}

export function runtimeInfo(): RuntimeInfo {
  return {
    ortVersion: ORT_VERSION,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    providers: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
  };
}

/**
 * Finds the provider this machine actually runs on by loading a one-node model with each candidate.
 * Cached for the process: probing loads driver libraries and takes a moment.
 */
let probed: Promise<{ provider: ProviderName; attempts: ProviderAttempt[] }> | null = null;
export function probeProvider(): Promise<{ provider: ProviderName; attempts: ProviderAttempt[] }> {
  probed ??= (async () => {
    const s = await createSession(identityModelBytes());
    const result = { provider: s.provider, attempts: s.attempts };
    await s.dispose();
    return result;
  })();
  return probed;
}

/** A one-node model `y = Identity(x)` (float [1]) built with our own encoder, used to probe providers. */
function identityModelBytes(): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsets: [{ domain: '', version: 14 }],
    producerName: 'sd4match',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: 'probe',
    graph: {
      name: 'probe',
      nodes: [{ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attrs: {}, metadata: {} }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1] }],
      initializers: new Map(),
      valueInfo: new Map(),
    },
  });
}

/**
 * A session for an in-memory model. Models whose weights all live in memory are serialized
 * directly; models with external data are written to a private temporary folder (weights
 * streamed or hard-linked, never loaded whole) and loaded from there.
 */
export async function createModelSession(model: Model, options: SessionOptions = {}): Promise<Session> {
  const external = [...model.graph.initializers.values()].some((t) => t.data.kind === 'external');
  if (!external) return createSession(encodeModel(model), options);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-session-'));
  try {
    const file = path.join(dir, 'model.onnx');
    saveModel(model, file);
    return await createSession(file, options);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

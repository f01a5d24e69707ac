/**
 * The one binding to onnxruntime-node: session creation with execution-provider choice and a
 * clean fallback to CPU (onnxruntime-node throws on an unavailable provider instead of falling
 * back), and conversion between host tensors and ORT tensors. Which providers work on this
 * machine comes from the provider probe (provider-probe.ts: once per machine, in child processes
 * whose native output is captured); what the user asked for is providers.ts's choice.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { AppError } from '../../shared/errors.js';
import type { HostTensor, Model } from './ir.js';
import { encodeModel, saveModel } from './model-io.js';
import { machineProbe, type MachineProbe, type OrtFacts, preflight, probeFileIn, probeKey, type ResolvedProviders, resolveProviderChoice, shortReason } from './provider-probe.js';
import { type ProviderChoice, type ProviderName, providerChoice } from './providers.js';

export type { ProviderChoice, ProviderName } from './providers.js';

export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

// ORT's default logger prints every failed provider load as an error; failures are reported
// through our own attempts list instead.
ort.env.logLevel = 'fatal';

const ORT_ENTRY = createRequire(import.meta.url).resolve('onnxruntime-node');

/** What the provider probe needs to know about this ONNX Runtime. */
const ORT_FACTS: OrtFacts = {
  version: ORT_VERSION,
  backends: ort.listSupportedBackends().map((b) => b.name),
  entry: ORT_ENTRY,
  binDir: path.join(path.dirname(ORT_ENTRY), '..', 'bin', 'napi-v6', process.platform, process.arch),
};

/** Providers that failed once in this process are not tried again (their reason is kept). */
const failedProviders = new Map<ProviderName, string>();

let probeCacheFile: string | null = null;

/**
 * Keeps this machine's provider probe in `cacheDir` (provider-probe.ts): set by whoever knows the
 * cache folder (opening the services, the CLI) before sessions are made. Without it, the probe
 * runs once per process.
 */
export function setProviderProbeCache(cacheDir: string): void {
  probeCacheFile = probeFileIn(cacheDir);
}

let probeKeyMemo: string | null = null;

/**
 * The fingerprint this machine's probe is cached under (ONNX Runtime, platform, drivers): taken
 * once per process (sessions are opened often; drivers do not change under a running process).
 */
export function providerProbeKey(): string {
  probeKeyMemo ??= probeKey(ORT_FACTS);
  return probeKeyMemo;
}

/** This machine's provider probe (cached; see provider-probe.ts). */
export function providerProbe(): Promise<MachineProbe> {
  return machineProbe(ORT_FACTS, identityModelBytes, { file: probeCacheFile, key: providerProbeKey() });
}

/**
 * The providers sessions try for a choice (default: this process's, see providers.ts): `auto`
 * skips providers that do not work here and software adapters, saying why; a provider asked for
 * by name is used, or refused with the reason it cannot run here.
 */
export async function resolveProviders(choice: ProviderChoice = providerChoice(), where?: string): Promise<ResolvedProviders> {
  return resolveProviderChoice(choice, await providerProbe(), where);
}

/**
 * The provider sessions opened with `providers` (a list: its first; a choice: resolved against
 * this machine's probe) will run on, known without opening one.
 */
export async function plannedProvider(providers: ProviderName[] | ProviderChoice = providerChoice()): Promise<ProviderName> {
  if (Array.isArray(providers)) return providers[0] ?? 'cpu';
  return (await resolveProviders(providers)).provider;
}

export interface ProviderAttempt {
  provider: ProviderName;
  ok: boolean;
  reason?: string;
}

export interface SessionOptions {
  /**
   * A choice (`auto` or a provider by name, resolved against this machine's probe; default: this
   * process's choice), or providers to try in order (CPU is appended if missing).
   */
  providers?: ProviderName[] | ProviderChoice;
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
  /**
   * Where outputs are returned (onnxruntime-node's `preferredOutputLocation`): 'gpu-buffer' keeps
   * them in WebGPU device memory (device-tensors.ts; other providers return them to the host).
   */
  outputLocation?: ort.InferenceSession.SessionOptions['preferredOutputLocation'];
  /**
   * Profile the session's runs with ONNX Runtime's profiler into `<prefix>_<time>.json`, written
   * by `session.ort.endProfiling()`: its node events say which provider ran each node
   * (placement.ts).
   */
  profileFilePrefix?: string;
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
  const attempts: ProviderAttempt[] = [];
  let wanted: ProviderName[];
  if (Array.isArray(options.providers)) {
    wanted = [...options.providers];
    if (!wanted.includes('cpu')) wanted.push('cpu');
  } else {
    // a named provider is the only one tried (no silent fallback); auto's skips say why
    const resolved = await resolveProviders(options.providers ?? providerChoice());
    wanted = resolved.providers;
    attempts.push(...resolved.skipped);
  }
  for (const provider of wanted) {
    const known = provider === 'cpu' ? null : (failedProviders.get(provider) ?? preflight(ORT_FACTS, provider));
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
    if (options.outputLocation) so.preferredOutputLocation = options.outputLocation;
    // SD4MATCH_ORT_PROFILE=<folder> profiles every session of the process (`npm run bench -- profile`),
    // one JSON file each, written when the session is disposed
    const profileDir = options.profileFilePrefix ? undefined : process.env.SD4MATCH_ORT_PROFILE;
    const profilePrefix = options.profileFilePrefix ?? (profileDir && path.join(profileDir, `${typeof model === 'string' ? path.basename(model, '.onnx') : 'bytes'}-${provider}`));
    if (profilePrefix) {
      if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
      so.enableProfiling = true;
      so.profileFilePrefix = profilePrefix;
    }
    const session: Record<string, unknown> = { intra_op: { allow_spinning: spinning() }, inter_op: { allow_spinning: spinning() } };
    if (lean) session.disable_prepacking = '1';
    so.extra = { session };
    if (options.constantFolding === false) so.extra.optimization = { disable_specified_optimizers: 'ConstantFolding' };
    try {
      const s = typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(model, so);
      attempts.push({ provider, ok: true });
      return wrap(s, provider, attempts, !!profileDir);
    } catch (e) {
      attempts.push({ provider, ok: false, reason: shortReason(e) });
      if (provider !== 'cpu' && !isModelError(e)) failedProviders.set(provider, shortReason(e));
      if (provider === 'cpu' || wanted.length === 1) {
        throw new AppError('RUNTIME_ERROR', `ONNX Runtime cannot load the model${provider === 'cpu' ? '' : ` on the ${provider} provider`}: ${shortReason(e)}`, String(e));
      }
    }
  }
  throw new AppError('RUNTIME_ERROR', `no execution provider could load the model (${attempts.map((a) => `${a.provider}: ${a.reason ?? 'failed'}`).join('; ')})`);
}

/** Errors that are about the model, not the provider (the CPU attempt will report them). */
function isModelError(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /INVALID_GRAPH|INVALID_PROTOBUF|NOT_IMPLEMENTED|Load model|ShapeInferenceError|TypeInferenceError/.test(msg);
}

function wrap(s: ort.InferenceSession, provider: ProviderName, attempts: ProviderAttempt[], endProfiling = false): Session {
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
      if (endProfiling) s.endProfiling();
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

/** The provider this process's sessions run on, as the user asked and the machine allows. */
export interface ProviderStatus {
  /** What was asked for (`auto` or a provider by name). */
  requested: ProviderChoice;
  provider: ProviderName;
  /** The candidates up to the one in use, fastest first, with why each faster one was passed over. */
  attempts: ProviderAttempt[];
  /** The WebGPU adapter, when the probe learnt it (name, and whether it is a software one). */
  adapter?: { name: string; software: boolean; reason: string };
  /** One line, e.g. `auto -> cpu (webgpu skipped: software adapter llvmpipe ...)`. */
  note: string;
  /** Why the provider asked for by name cannot run here (then sessions refuse to open). */
  error?: string;
}

/**
 * The provider this machine runs on for this process's choice, from the cached machine probe: no
 * session is opened here, and the native libraries' output stays in the probe's children.
 */
export async function probeProvider(choice: ProviderChoice = providerChoice()): Promise<ProviderStatus> {
  const probe = await providerProbe();
  const webgpu = probe.providers.find((p) => p.provider === 'webgpu')?.adapter;
  const adapter = webgpu ? { adapter: { name: webgpu.name, software: webgpu.software, reason: webgpu.reason } } : {};
  let r: ResolvedProviders;
  try {
    r = resolveProviderChoice(choice, probe);
  } catch (e) {
    // a provider asked for by name that cannot run here: said, not thrown (the status bar shows it)
    const error = (e as Error).message;
    const attempts = probe.providers.map((p): ProviderAttempt => (p.ok ? { provider: p.provider, ok: p.provider === choice } : { provider: p.provider, ok: false, reason: p.reason ?? 'unavailable' }));
    return { requested: choice, provider: choice === 'auto' ? 'cpu' : choice, attempts, note: `${choice} (cannot run here)`, error, ...adapter };
  }
  // the faster candidates and why each was passed over, then the one in use (slower ones are not news)
  const used = probe.providers.findIndex((p) => p.provider === r.provider);
  const attempts: ProviderAttempt[] = probe.providers.slice(0, used + 1).map((p) => {
    const skipped = r.skipped.find((s) => s.provider === p.provider);
    if (skipped) return { provider: p.provider, ok: false, reason: skipped.reason };
    if (p.provider === r.provider) return { provider: p.provider, ok: true };
    return p.ok ? { provider: p.provider, ok: false, reason: `not used: ${r.requested} asked for` } : { provider: p.provider, ok: false, reason: p.reason ?? 'unavailable' };
  });
  return { requested: choice, provider: r.provider, attempts, note: r.note, ...adapter };
}

/** A one-node model `y = x + x` (float [1]) built with our own encoder, used to probe providers. */
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
      nodes: [{ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'x'], outputs: ['y'], attrs: {}, metadata: {} }],
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

/**
 * Which execution providers work on this machine, found once per machine rather than once per
 * process. Loading a provider prints native noise (the Vulkan loader, Mesa's `XDG_RUNTIME_DIR is
 * invalid`, Dawn's "limit artificially reduced" warnings) and can take seconds, so each candidate
 * is loaded in a child process of its own whose output is captured (kept in the probe's log, never
 * on the user's terminal), and the result is cached in a small JSON file in the cache folder,
 * keyed by the ONNX Runtime version, the platform and a fingerprint of the driver set (Vulkan ICD
 * manifests and their times, the provider libraries, the Vulkan loader): a new driver re-probes.
 *
 * `resolveProviderChoice` turns what the user asked for (`auto` or a provider) and the probe into
 * the providers sessions try: `auto` never picks a software adapter (adapter.ts) and says why.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { type AdapterClass, type AdapterDescription, classifyAdapter, parseVulkanLoaderDevices, softwareOnlyIcd, webgpuAdapterOf } from './adapter.js';
import type { ProviderChoice, ProviderName } from './providers.js';

/** What the probe needs to know about the ONNX Runtime it probes (runtime.ts supplies it). */
export interface OrtFacts {
  version: string;
  /** Backends onnxruntime-node knows (bundled or not). */
  backends: string[];
  /** Absolute path of onnxruntime-node's entry (the child process requires it). */
  entry: string;
  /** Folder of the native binding and the provider libraries. */
  binDir: string;
}

/** One provider as the probe found it. */
export interface ProbedProvider {
  provider: ProviderName;
  ok: boolean;
  /** Why it cannot be used (absent when it works). */
  reason?: string;
  /** The WebGPU adapter it runs on, when the driver says. */
  adapter?: AdapterDescription & AdapterClass;
}

/** The cached result of probing this machine. */
export interface MachineProbe {
  format: 1;
  /** The fingerprint this result is valid for. */
  key: string;
  probedAt: number;
  ortVersion: string;
  platform: string;
  /** Candidates in preference order, CPU last. */
  providers: ProbedProvider[];
  /** The native output each loaded provider printed (for the log; never shown on a terminal). */
  log: Partial<Record<ProviderName, string>>;
}

/** A provider the resolution passed over, and why. */
export interface SkippedProvider {
  provider: ProviderName;
  ok: false;
  reason: string;
}

export interface ResolvedProviders {
  requested: ProviderChoice;
  /** Providers sessions try, in order (CPU last as the fallback under `auto`). */
  providers: ProviderName[];
  /** The provider sessions are expected to run on. */
  provider: ProviderName;
  /** Faster providers not used, with the reason (a software adapter says so). */
  skipped: SkippedProvider[];
  /** The adapter the chosen provider runs on, when known (WebGPU). */
  adapter?: AdapterDescription & AdapterClass;
  /** One line for runs and logs, e.g. `auto -> cpu (webgpu skipped: software adapter llvmpipe ...)`. */
  note: string;
}

/** Providers worth trying on a platform, fastest first; CPU always last. */
export function candidateProviders(backends: string[], platform: NodeJS.Platform = process.platform, arch: string = process.arch): ProviderName[] {
  const known = new Set(backends);
  const list: ProviderName[] = [];
  const consider = (p: ProviderName) => {
    if (known.has(p)) list.push(p);
  };
  if (platform === 'linux' && arch === 'x64') {
    consider('tensorrt');
    consider('cuda');
  }
  if (platform === 'win32') consider('dml');
  if (platform === 'darwin') consider('coreml');
  consider('webgpu');
  list.push('cpu');
  return list;
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu'];

/** Where the dynamic linker would find a library: LD_LIBRARY_PATH first, then the usual folders. */
function findLibrary(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  for (const d of dirs) {
    const f = path.join(d, name);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

function providerLibrary(ort: OrtFacts, provider: ProviderName): string {
  return path.join(ort.binDir, process.platform === 'win32' ? `onnxruntime_providers_${provider}.dll` : `libonnxruntime_providers_${provider}.so`);
}

/** Reasons a provider cannot work here, found without loading it (loading prints native noise). */
export function preflight(ort: OrtFacts, provider: ProviderName): string | null {
  if (provider === 'cuda' || provider === 'tensorrt') {
    if (!fs.existsSync(providerLibrary(ort, provider))) return `${provider} provider libraries are not installed (see README: GPU execution providers)`;
  }
  if (provider === 'webgpu' && process.platform === 'linux' && !findLibrary('libvulkan.so.1')) return 'the Vulkan loader (libvulkan1) is not installed';
  return null;
}

/** The Vulkan driver manifests the loader reads (the VK_ICD_FILENAMES / VK_DRIVER_FILES override, else the search folders). */
export function vulkanIcds(env: NodeJS.ProcessEnv = process.env): { file: string; library: string }[] {
  if (process.platform !== 'linux') return [];
  const override = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  let files: string[];
  if (override) {
    files = override.split(':').filter(Boolean);
  } else {
    const home = os.homedir();
    const dataDirs = [env.XDG_DATA_HOME || path.join(home, '.local/share'), ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')];
    const configDirs = [env.XDG_CONFIG_HOME || path.join(home, '.config'), ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'), '/etc'];
    const dirs = [...configDirs, ...dataDirs].filter(Boolean).map((d) => path.join(d, 'vulkan', 'icd.d'));
    files = [];
    for (const d of [...new Set(dirs)]) {
      try {
        for (const f of fs.readdirSync(d).sort()) if (f.endsWith('.json')) files.push(path.join(d, f));
      } catch {
        // no such folder
      }
    }
  }
  if (env.VK_ADD_DRIVER_FILES) files.push(...env.VK_ADD_DRIVER_FILES.split(':').filter(Boolean));
  const out: { file: string; library: string }[] = [];
  for (const file of files) {
    try {
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } };
      if (m.ICD?.library_path) out.push({ file, library: m.ICD.library_path });
    } catch {
      // unreadable or not a manifest: the loader skips it too
    }
  }
  return out;
}

function stamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${file}:${s.size}:${Math.round(s.mtimeMs)}`;
  } catch {
    return `${file}:absent`;
  }
}

/**
 * The fingerprint of what decides which providers work: ONNX Runtime, the platform, the provider
 * libraries, the Vulkan loader and drivers (manifests and their times) and the variables that
 * steer them, the NVIDIA driver.
 */
export function probeKey(ort: OrtFacts, env: NodeJS.ProcessEnv = process.env): string {
  const parts: string[] = [`ort ${ort.version}`, `${process.platform}-${process.arch}`, `backends ${ort.backends.join(',')}`];
  for (const p of ['cuda', 'tensorrt', 'dml'] as const) parts.push(stamp(providerLibrary(ort, p)));
  if (process.platform === 'linux') {
    parts.push(`libvulkan ${stamp(findLibrary('libvulkan.so.1', env) ?? 'libvulkan.so.1')}`);
    for (const icd of vulkanIcds(env)) parts.push(`icd ${stamp(icd.file)} ${icd.library}`);
    try {
      parts.push(`nvidia ${fs.readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0]}`);
    } catch {
      // no NVIDIA driver
    }
  }
  for (const v of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'LD_LIBRARY_PATH', 'CUDA_VISIBLE_DEVICES']) parts.push(`${v}=${env[v] ?? ''}`);
  return crypto.createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/** The probe's file in a cache folder. */
export function probeFileIn(cacheDir: string): string {
  return path.join(cacheDir, 'provider-probe.json');
}

/**
 * The child process that loads one provider: requires onnxruntime-node, opens a session on a
 * one-node model `y = x + x`, runs it and prints the outcome on its stdout after a marker (the
 * native libraries write to both streams; the parent keeps them for the log). Plain CommonJS run
 * with `-e`, so it works from the sources, the build and Electron (ELECTRON_RUN_AS_NODE).
 */
const CHILD_SCRIPT = `
const [entry, provider, model] = JSON.parse(process.argv[1]);
const say = (r) => process.stdout.write('\\n@@sd4match-probe ' + JSON.stringify(r) + '\\n');
(async () => {
  const ort = require(entry);
  ort.env.logLevel = 'fatal';
  const s = await ort.InferenceSession.create(new Uint8Array(Buffer.from(model, 'base64')), { executionProviders: [provider], logSeverityLevel: 3 });
  const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([1.5]), [1]) });
  const y = out.y.data[0];
  await s.release();
  say(y === 3 ? { ok: true } : { ok: false, error: 'computed ' + y + ' for 1.5 + 1.5' });
})().catch((e) => say({ ok: false, error: String((e && e.message) || e) })).finally(() => setTimeout(() => process.exit(0), 50));
`;

/** Short, single-line reason from a provider failure (ORT messages carry source paths and log noise). */
export function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n').find((l) => l.trim().length > 0) ?? msg;
  if (/Failed to load shared library|cannot open shared object|libonnxruntime_providers/.test(msg)) return 'provider libraries are not installed';
  if (/WebGPU adapter/.test(msg)) return 'no WebGPU adapter (GPU driver or Vulkan loader missing)';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

const CHILD_TIMEOUT_MS = 60_000;
const LOG_CHARS = 8000;

/** Loads one provider in a child process; its output is captured, never passed through. */
function probeInChild(ort: OrtFacts, provider: ProviderName, model: Uint8Array): Promise<{ ok: boolean; reason?: string; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ELECTRON_RUN_AS_NODE: '1', VK_LOADER_DEBUG: 'info' };
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, JSON.stringify([ort.entry, provider, Buffer.from(model).toString('base64')])], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      clearTimeout(timer);
      const output = `${out}\n${err}`;
      const m = /^@@sd4match-probe (.*)$/m.exec(out);
      if (m) {
        const r = JSON.parse(m[1]) as { ok: boolean; error?: string };
        resolve(r.ok ? { ok: true, output } : { ok: false, reason: shortReason(r.error ?? 'failed'), output });
      } else if (spawnError) {
        resolve({ ok: false, reason: `the probe process could not start: ${spawnError.message}`, output });
      } else if (timedOut) {
        resolve({ ok: false, reason: `loading it did not finish within ${CHILD_TIMEOUT_MS / 1000} s`, output });
      } else {
        resolve({ ok: false, reason: `loading it ended the process (${signal ?? `exit code ${code}`})`, output });
      }
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Probes every candidate (each in its own child process). */
export async function runProbe(ort: OrtFacts, model: Uint8Array, key: string): Promise<MachineProbe> {
  const providers: ProbedProvider[] = [];
  const log: MachineProbe['log'] = {};
  for (const provider of candidateProviders(ort.backends)) {
    if (provider === 'cpu') {
      providers.push({ provider, ok: true });
      continue;
    }
    const known = preflight(ort, provider);
    if (known) {
      providers.push({ provider, ok: false, reason: known });
      continue;
    }
    const r = await probeInChild(ort, provider, model);
    log[provider] = r.output.trim().slice(-LOG_CHARS);
    const entry: ProbedProvider = r.ok ? { provider, ok: true } : { provider, ok: false, reason: r.reason };
    if (provider === 'webgpu' && r.ok) {
      const adapter = webgpuAdapterOf(parseVulkanLoaderDevices(r.output)) ?? softwareOnlyIcd(vulkanIcds());
      if (adapter) entry.adapter = { ...adapter, ...classifyAdapter(adapter) };
    }
    providers.push(entry);
  }
  return { format: 1, key, probedAt: Date.now(), ortVersion: ort.version, platform: `${process.platform}-${process.arch}`, providers, log };
}

function readProbe(file: string, key: string): MachineProbe | null {
  try {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as MachineProbe;
    return p.format === 1 && p.key === key && Array.isArray(p.providers) ? p : null;
  } catch {
    return null;
  }
}

function writeProbe(file: string, p: MachineProbe): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(p, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch {
    // an unwritable cache folder only means probing again in the next process
  }
}

const memo = new Map<string, Promise<MachineProbe>>();

/**
 * This machine's probe: from `file` when its fingerprint still matches, else probed now (in
 * children, output captured) and written there; without a file, probed once for this process.
 */
export function machineProbe(ort: OrtFacts, model: () => Uint8Array, options: { file?: string | null; env?: NodeJS.ProcessEnv; key?: string } = {}): Promise<MachineProbe> {
  const env = options.env ?? process.env;
  const file = options.file ?? null;
  const key = options.key ?? probeKey(ort, env);
  const id = `${file ?? ''}\n${key}`;
  let p = memo.get(id);
  if (!p) {
    p = (async () => {
      const cached = file ? readProbe(file, key) : null;
      if (cached) return cached;
      const fresh = await runProbe(ort, model(), key);
      if (file) writeProbe(file, fresh);
      return fresh;
    })();
    memo.set(id, p);
    p.catch(() => memo.delete(id));
  }
  return p;
}

/**
 * The providers sessions try for a request, given the probe. `auto`: the first provider that
 * works and is not a software adapter, then CPU; the ones passed over are listed with the reason.
 * A provider asked for by name is used as it is (a software WebGPU adapter included: the user
 * asked, and it is how the WebGPU path is tested without a GPU), or refused with the reason it
 * cannot run here; `where` names the request in that error (`--provider`, Settings).
 */
export function resolveProviderChoice(requested: ProviderChoice, probe: Pick<MachineProbe, 'providers' | 'platform'>, where?: string): ResolvedProviders {
  if (requested !== 'auto') {
    if (requested === 'cpu') return { requested, providers: ['cpu'], provider: 'cpu', skipped: [], note: 'cpu' };
    const found = probe.providers.find((p) => p.provider === requested);
    const asked = `the ${requested} execution provider${where ? ` (${where})` : ''}`;
    if (!found) throw new AppError('INVALID_ARGUMENT', `${asked} is not available on ${probe.platform}; providers here: ${probe.providers.map((p) => p.provider).join(', ')}`);
    if (!found.ok) throw new AppError('INVALID_ARGUMENT', `${asked} cannot run on this machine: ${found.reason ?? 'it failed to load'}`);
    const note = found.adapter?.software ? `${requested} (asked for; ${found.adapter.reason})` : requested;
    return { requested, providers: [requested], provider: requested, skipped: [], ...(found.adapter ? { adapter: found.adapter } : {}), note };
  }
  const skipped: SkippedProvider[] = [];
  for (const p of probe.providers) {
    if (p.provider === 'cpu') break;
    if (!p.ok) {
      skipped.push({ provider: p.provider, ok: false, reason: p.reason ?? 'unavailable' });
      continue;
    }
    if (p.adapter?.software) {
      skipped.push({ provider: p.provider, ok: false, reason: `skipped: ${p.adapter.reason}` });
      continue;
    }
    return { requested, providers: [p.provider, 'cpu'], provider: p.provider, skipped, ...(p.adapter ? { adapter: p.adapter } : {}), note: `auto -> ${p.provider}` };
  }
  const software = skipped.filter((s) => s.reason.startsWith('skipped: '));
  const why = software.map((s) => `${s.provider} ${s.reason}`).join('; ');
  return { requested, providers: ['cpu'], provider: 'cpu', skipped, note: why ? `auto -> cpu (${why})` : 'auto -> cpu' };
}

#!/usr/bin/env node
/**
 * The WebGPU adapter the WebGPU parity run of `npm test` needs (the fixture parity suites again,
 * every session on onnxruntime-node's WebGPU provider). On a machine without a GPU that is Mesa's
 * lavapipe, a software Vulkan driver: Mesa 25 or later (Debian's `mesa-vulkan-drivers` from the
 * `<codename>-backports` suite on bookworm); the runtime refuses Mesa 22's lavapipe.
 *
 *   1. whether WebGPU works here is asked of the engine's own provider probe
 *      (src/main/engine/onnx/runtime.ts `probeProvider('webgpu')`: a one-node model run on WebGPU
 *      in a child process, the adapter learnt from the Vulkan loader or the installed drivers),
 *      in a fresh process each time, so a driver installed in between is seen;
 *   2. when it does not and we may install (root, or sudo without a password, on Debian with
 *      apt-get): the backports suite is added by copying apt's existing Debian entry with the suite
 *      changed (no mirror is named here: it is the one this machine already uses), then
 *      `apt-get install -t <codename>-backports mesa-vulkan-drivers libvulkan1`, and it is asked again;
 *   3. otherwise the reason and the one command that gets it (`sudo node scripts/lavapipe.mjs`).
 *
 * Run directly (`node scripts/lavapipe.mjs`), it does the same and prints the adapter or why not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APT_SOURCES = '/etc/apt/sources.list.d';
const DEBIAN_SOURCES = path.join(APT_SOURCES, 'debian.sources');
const BACKPORTS_SOURCES = path.join(APT_SOURCES, 'debian-backports.sources');
const PACKAGES = ['mesa-vulkan-drivers', 'libvulkan1'];
const MARKER = '@@sd4match-webgpu ';

/**
 * The environment the WebGPU runtime needs: XDG_RUNTIME_DIR (Mesa's and Dawn's per-user runtime
 * folder; without it they complain on every process) is a private 0700 folder under the OS temp
 * folder when unset. Returns the variables to add (empty when it is set).
 * @param {NodeJS.ProcessEnv} env
 * @returns {Record<string, string>}
 */
export function webgpuEnv(env = process.env) {
  if (process.platform !== 'linux' || env.XDG_RUNTIME_DIR) return {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-xdg-'));
  fs.chmodSync(dir, 0o700);
  return { XDG_RUNTIME_DIR: dir };
}

/**
 * Whether onnxruntime-node's WebGPU provider runs here, from the engine's provider probe in a fresh
 * child process (a driver installed since is seen; the native libraries' output stays there).
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ ok: true, adapter: string } | { ok: false, reason: string }}
 */
export function probeWebgpu(env = process.env) {
  const script = `
const { tsImport } = await import('tsx/esm/api');
const rt = await tsImport(${JSON.stringify(path.join(root, 'src/main/engine/onnx/runtime.ts'))}, ${JSON.stringify(pathToFileURL(path.join(root, 'scripts/')).href)});
const s = await rt.probeProvider('webgpu');
process.stdout.write('\\n${MARKER}' + JSON.stringify({ error: s.error ?? null, adapter: s.adapter ?? null }) + '\\n');
process.exit(0);
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(MARKER));
  if (!line) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    const last = `${r.stderr ?? ''}`.trim().split('\n').pop() ?? '';
    return { ok: false, reason: `the provider probe did not answer (${why}${last ? `: ${last.slice(0, 200)}` : ''})` };
  }
  const out = /** @type {{ error: string | null, adapter: { name: string, software: boolean } | null }} */ (JSON.parse(line.slice(MARKER.length)));
  if (out.error) return { ok: false, reason: out.error };
  return { ok: true, adapter: out.adapter ? `${out.adapter.name}${out.adapter.software ? ' (software)' : ''}` : 'an adapter the probe could not name' };
}

/** How this user could install packages without a prompt: 'root', 'sudo', or null. */
function installRights() {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return 'root';
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? 'sudo' : null;
}

/** This Debian's codename (`bookworm`), or null off Debian. */
function codename() {
  try {
    const m = /^VERSION_CODENAME=(.+)$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1].replace(/^"|"$/g, '').trim() : null;
  } catch {
    return null;
  }
}

/** The installed version of a Debian package, or null. @param {string} name */
function installedVersion(name) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** The one command that gets a WebGPU adapter here, for the line that says the run was skipped. */
export function installHint() {
  if (process.platform === 'linux' && fs.existsSync('/usr/bin/apt-get')) return 'sudo node scripts/lavapipe.mjs';
  return "install a Vulkan (Linux), Metal (macOS) or Direct3D 12 (Windows) driver that onnxruntime-node's WebGPU provider accepts";
}

/**
 * The deb822 stanzas of a `.sources` file (blank-line separated `Field: value` blocks; `#` comments
 * and continuation lines dropped).
 * @param {string} text
 * @returns {Record<string, string>[]}
 */
export function parseDeb822(text) {
  /** @type {Record<string, string>[]} */
  const stanzas = [];
  /** @type {Record<string, string>} */
  let cur = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      if (Object.keys(cur).length) stanzas.push(cur);
      cur = {};
      continue;
    }
    if (line.startsWith('#') || /^\s/.test(line)) continue;
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) cur[m[1]] = m[2].trim();
  }
  if (Object.keys(cur).length) stanzas.push(cur);
  return stanzas;
}

/**
 * The backports entry made from apt's Debian entry: the stanza whose suites include the codename
 * itself, with `Suites: <codename>-backports` and everything else (mirror, components, key) kept.
 * @param {string} sources the text of debian.sources
 * @param {string} name the codename
 * @returns {string | null}
 */
export function backportsEntry(sources, name) {
  const stanza = parseDeb822(sources).find((s) => (s.Suites ?? '').split(/\s+/).includes(name));
  if (!stanza) return null;
  /** @type {Record<string, string>} */
  const fields = { ...stanza, Suites: `${name}-backports` };
  return `${['Types', 'URIs', 'Suites', 'Components', 'Signed-By']
    .filter((k) => fields[k])
    .map((k) => `${k}: ${fields[k]}`)
    .join('\n')}\n`;
}

/**
 * Installs Mesa's lavapipe from backports. Returns null when done, else why not.
 * @param {'root' | 'sudo'} rights
 * @param {(line: string) => void} log
 * @returns {string | null}
 */
function installLavapipe(rights, log) {
  const name = codename();
  if (!name) return 'not a Debian release with a codename (/etc/os-release)';
  const sudo = rights === 'sudo' ? ['sudo', '-n'] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  /** @param {string[]} args @param {string} [input] written to the command's stdin */
  const run = (args, input) => {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'], env, input });
    return r.status === 0 ? null : `\`${cmd.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`;
  };
  if (!fs.existsSync(BACKPORTS_SOURCES)) {
    let sources;
    try {
      sources = fs.readFileSync(DEBIAN_SOURCES, 'utf8');
    } catch {
      return `apt's Debian entry ${DEBIAN_SOURCES} (deb822) is not there to copy the backports suite from`;
    }
    const entry = backportsEntry(sources, name);
    if (!entry) return `${DEBIAN_SOURCES} has no entry for the suite ${name} to copy`;
    log(`adding the ${name}-backports suite (${BACKPORTS_SOURCES}, copied from ${DEBIAN_SOURCES})`);
    const failed = run(['tee', BACKPORTS_SOURCES], entry);
    if (failed) return failed;
  }
  log(`installing Mesa's lavapipe: ${[...sudo, 'apt-get', 'install', '-y', '-t', `${name}-backports`, ...PACKAGES].join(' ')}`);
  return run(['apt-get', 'update', '-q']) ?? run(['apt-get', 'install', '-y', '-q', '-t', `${name}-backports`, ...PACKAGES]);
}

/**
 * A working WebGPU adapter for the parity run, installing lavapipe when none works and we may.
 * @param {(line: string) => void} log
 * @returns {{ adapter: string, env: Record<string, string> } | { skip: string }}
 */
export function ensureWebgpu(log = (line) => process.stdout.write(`${line}\n`)) {
  const env = webgpuEnv();
  const childEnv = { ...process.env, ...env };
  /** @param {string} why @returns {{ skip: string }} */
  const skip = (why) => {
    if (env.XDG_RUNTIME_DIR) fs.rmSync(env.XDG_RUNTIME_DIR, { recursive: true, force: true });
    return { skip: `no WebGPU adapter: ${why}; run: ${installHint()}` };
  };
  const first = probeWebgpu(childEnv);
  if (first.ok) return { adapter: first.adapter, env };
  const mesa = process.platform === 'linux' ? installedVersion('mesa-vulkan-drivers') : null;
  const old = mesa !== null && Number(/^(?:\d+:)?(\d+)\./.exec(mesa)?.[1] ?? 0) < 25;
  const why = `${first.reason}${old ? ` (mesa-vulkan-drivers ${mesa} is installed; the WebGPU runtime needs Mesa 25 or later)` : ''}`;
  const rights = process.platform === 'linux' && fs.existsSync('/usr/bin/apt-get') ? installRights() : null;
  if (!rights) return skip(why);
  log(`WebGPU does not run here (${why})`);
  const failed = installLavapipe(rights, log);
  if (failed) return skip(`${why}; installing lavapipe failed: ${failed}`);
  const second = probeWebgpu(childEnv);
  if (second.ok) return { adapter: second.adapter, env };
  return skip(`${second.reason} (also after installing lavapipe from backports)`);
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const r = ensureWebgpu();
  if ('skip' in r) {
    process.stdout.write(`${r.skip}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`WebGPU adapter: ${r.adapter}\n`);
    if (r.env.XDG_RUNTIME_DIR) fs.rmSync(r.env.XDG_RUNTIME_DIR, { recursive: true, force: true });
  }
}

#!/usr/bin/env node
/**
 * `npm start`: the desktop app when the Electron binary is installed, otherwise browser mode.
 *
 * - Electron present: build if out/ is missing or older than its sources, then run `electron .`.
 * - Electron missing (node_modules/electron without dist/, e.g. installed with its download denied):
 *   say so in one line, build the renderer if it is missing or stale, and start the same server as
 *   `sd4match serve` on 127.0.0.1, printing the URL (with its access token).
 *
 * Options (after `npm start --`): --port N (default: serve's usual port 7180, or a free one), --no-open.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requireCjs = createRequire(import.meta.url);
const isWindows = process.platform === 'win32';

/** @returns {string | null} the Electron executable, or null when it was never downloaded */
function electronBinary() {
  try {
    const executable = requireCjs('electron');
    return typeof executable === 'string' && existsSync(executable) ? executable : null;
  } catch {
    // node_modules/electron/index.js throws when path.txt is missing (download skipped)
    return null;
  }
}

/**
 * Newest modification time under the given paths (files or directories), in ms.
 * @param {string[]} paths repository-relative
 */
function newestMtime(paths) {
  let newest = 0;
  /** @param {string} p */
  const visit = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const entry of readdirSync(p)) visit(path.join(p, entry));
    } else {
      newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const p of paths) visit(path.join(root, p));
  return newest;
}

/**
 * Whether any output is missing or older than the newest input.
 * @param {string[]} outputs repository-relative files
 * @param {string[]} inputs repository-relative files or directories
 */
function isStale(outputs, inputs) {
  const outs = outputs.map((o) => path.join(root, o));
  if (outs.some((o) => !existsSync(o))) return true;
  const oldestOutput = Math.min(...outs.map((o) => statSync(o).mtimeMs));
  return newestMtime(inputs) > oldestOutput;
}

function build() {
  process.stdout.write('Building (electron-vite build)…\n');
  const electronVite = path.join(root, 'node_modules', '.bin', isWindows ? 'electron-vite.cmd' : 'electron-vite');
  const run = spawnSync(electronVite, ['build'], { cwd: root, stdio: 'inherit', shell: isWindows });
  if (run.status !== 0) {
    process.stderr.write('error: the build failed; see the output above\n');
    process.exit(run.status ?? 1);
  }
}

const BUILD_CONFIG = ['electron.vite.config.ts', 'package.json', 'tsconfig.json', 'tsconfig.node.json', 'tsconfig.web.json'];

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: 'string' },
    'no-open': { type: 'boolean', default: false },
  },
  strict: true,
});

/** @type {number | undefined} undefined: serve's usual port (a free one when it is taken) */
let port;
if (values.port !== undefined) {
  port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`error: --port must be an integer from 0 to 65535, got '${values.port}'\n`);
    process.exit(1);
  }
}

const electron = electronBinary();

if (electron) {
  if (isStale(['out/main/index.js', 'out/preload/index.cjs', 'out/renderer/index.html'], ['src', ...BUILD_CONFIG])) build();
  const child = spawn(electron, ['.'], { cwd: root, stdio: 'inherit' });
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.stdout.write(
    'Electron binary not installed (node_modules/electron has no dist/): starting browser mode; to get the desktop app run `node node_modules/electron/install.js` with network access.\n',
  );
  if (isStale(['out/renderer/index.html'], ['src/renderer', 'src/main/api', ...BUILD_CONFIG])) build();

  // Same code path as `sd4match serve`, loaded from the TypeScript sources through tsx.
  const { tsImport } = await import('tsx/esm/api');
  /** @type {{ runServe: (options: { host: string, port?: number, open: boolean }) => Promise<void> }} */
  const serve = await tsImport('../src/main/cli/serve.ts', import.meta.url);
  try {
    await serve.runServe({ host: '127.0.0.1', ...(port === undefined ? {} : { port }), open: !values['no-open'] });
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

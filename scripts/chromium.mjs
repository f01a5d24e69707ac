/**
 * The Chromium the browser tests drive (playwright-core launches a browser it does not download):
 *
 *   1. $SD4MATCH_CHROMIUM when set (it must exist);
 *   2. a Chrome or Chromium already on the machine: the standard install paths of Linux, macOS
 *      and Windows, then `chromium`, `chromium-browser`, `google-chrome` on the PATH;
 *   3. on Linux with apt-get, Debian's `chromium` package, installed when we are root or have sudo
 *      without a password (`ensureChromium` only).
 *
 * `npm test` calls `ensureChromium` before running anything and hands the result to the tests as
 * SD4MATCH_CHROMIUM; when nothing can be had it names the one command that gets a browser.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

/** @param {NodeJS.Platform} platform @param {NodeJS.ProcessEnv} env @returns {string[]} */
export function standardPaths(platform = process.platform, env = process.env) {
  if (platform === 'darwin') {
    return [
      '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      '/Applications/Chromium.app/Contents/MacOS/Chromium',
      path.join(env.HOME ?? '', 'Applications/Google Chrome.app/Contents/MacOS/Google Chrome'),
      path.join(env.HOME ?? '', 'Applications/Chromium.app/Contents/MacOS/Chromium'),
    ];
  }
  if (platform === 'win32') {
    const roots = [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA].filter((r) => typeof r === 'string' && r !== '');
    return roots.flatMap((r) => [
      path.win32.join(/** @type {string} */ (r), 'Google', 'Chrome', 'Application', 'chrome.exe'),
      path.win32.join(/** @type {string} */ (r), 'Chromium', 'Application', 'chrome.exe'),
    ]);
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium', '/opt/google/chrome/chrome'];
}

const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** @param {string} file */
function executable(file) {
  try {
    accessSync(file, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** @param {string} name @param {NodeJS.ProcessEnv} env @returns {string | null} */
function onPath(name, env) {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/**
 * A Chrome or Chromium on this machine, or null. Throws when SD4MATCH_CHROMIUM names a file that
 * is not there (a typo should not silently pick another browser).
 * @param {NodeJS.ProcessEnv} env
 * @param {string[]} installPaths where browsers install themselves (`standardPaths()`), looked at before the PATH
 * @returns {string | null}
 */
export function findChromium(env = process.env, installPaths = standardPaths(process.platform, env)) {
  const chosen = env.SD4MATCH_CHROMIUM;
  if (chosen) {
    if (!executable(chosen)) throw new Error(`SD4MATCH_CHROMIUM is ${chosen}, which is not an executable file`);
    return chosen;
  }
  for (const p of installPaths) if (executable(p)) return p;
  if (process.platform !== 'win32')
    for (const n of PATH_NAMES) {
      const p = onPath(n, env);
      if (p) return p;
    }
  return null;
}

/** How this user could install Chromium without a prompt: 'root', 'sudo', or null. */
function installRights() {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return 'root';
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? 'sudo' : null;
}

/** The one command that gets a browser on this machine, for the message when none can be had. */
export function installHint() {
  if (process.platform === 'linux' && existsSync('/usr/bin/apt-get')) return 'sudo apt-get install -y chromium';
  if (process.platform === 'darwin') return 'brew install --cask chromium   (or install Google Chrome)';
  return 'install Google Chrome or Chromium, or set SD4MATCH_CHROMIUM to its executable';
}

/**
 * Finds Chromium, installing Debian's package when none is there and we may. Returns the
 * executable, or an error message naming the command to run.
 * @param {(line: string) => void} log
 * @returns {{ path: string } | { error: string }}
 */
export function ensureChromium(log = (line) => process.stdout.write(`${line}\n`)) {
  try {
    const found = findChromium();
    if (found) return { path: found };
  } catch (e) {
    return { error: /** @type {Error} */ (e).message };
  }
  const rights = process.platform === 'linux' && existsSync('/usr/bin/apt-get') ? installRights() : null;
  if (!rights) return { error: `the browser tests need Chrome or Chromium and none was found (looked in ${standardPaths().join(', ')} and on the PATH); run: ${installHint()}` };
  const sudo = rights === 'sudo' ? ['sudo', '-n'] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`Chromium is missing: installing Debian's chromium (${[...sudo, 'apt-get', 'install', '-y', 'chromium'].join(' ')})`);
  for (const args of [
    ['apt-get', 'update', '-q'],
    ['apt-get', 'install', '-y', '-q', 'chromium'],
  ]) {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env });
    if (r.status !== 0) return { error: `\`${cmd.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); run: ${installHint()}` };
  }
  const installed = findChromium();
  return installed ? { path: installed } : { error: `apt-get installed chromium but no executable was found; run: ${installHint()}` };
}

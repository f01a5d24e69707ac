/**
 * Where the workstation keeps its database and caches. Plain Node (no `electron`): the Electron
 * main process, the CLI and the server all resolve the same folders.
 *
 * - Linux:   `$XDG_DATA_HOME/sd4match-workstation/` (default `~/.local/share/...`), caches in
 *            `$XDG_CACHE_HOME/sd4match-workstation/` (default `~/.cache/...`).
 * - macOS:   `~/Library/Application Support/SD4Match Workstation/`, caches in
 *            `~/Library/Caches/SD4Match Workstation/`.
 * - Windows: `%APPDATA%\SD4Match Workstation\`, caches in `%LOCALAPPDATA%\SD4Match Workstation\Cache\`.
 *
 * `SD4MATCH_DB` (or the CLI's `--db`) names another database file; `SD4MATCH_CACHE` another
 * cache folder. A database chosen explicitly keeps its caches beside it (`<file>-cache/`), so a
 * scratch database never fills the user's real cache and deleting its folder removes everything.
 *
 * Backups of a database (store/backup.ts) sit beside it in `<file>-backups/`, whichever way it was
 * chosen: with the data, not in the cache folder, which users and cleaning tools empty freely.
 */
import os from 'node:os';
import path from 'node:path';

export const APP_DIR_NAME = 'SD4Match Workstation';
export const APP_DIR_NAME_XDG = 'sd4match-workstation';
export const DB_FILE_NAME = 'workstation.db';

export interface PlatformEnv {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

function resolveEnv(p: PlatformEnv): { platform: NodeJS.Platform; env: NodeJS.ProcessEnv; home: string } {
  return { platform: p.platform ?? process.platform, env: p.env ?? process.env, home: p.home ?? os.homedir() };
}

/** An environment variable that is set to an absolute path (XDG says relative values are ignored). */
function absEnv(env: NodeJS.ProcessEnv, name: string, pathApi: typeof path.posix): string | undefined {
  const v = env[name];
  return v && pathApi.isAbsolute(v) ? v : undefined;
}

/** The user's application-data folder for the workstation (not created here). */
export function appDataDir(p: PlatformEnv = {}): string {
  const { platform, env, home } = resolveEnv(p);
  if (platform === 'win32') {
    const base = absEnv(env, 'APPDATA', path.win32) ?? path.win32.join(home, 'AppData', 'Roaming');
    return path.win32.join(base, APP_DIR_NAME);
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', APP_DIR_NAME);
  const base = absEnv(env, 'XDG_DATA_HOME', path.posix) ?? path.posix.join(home, '.local', 'share');
  return path.posix.join(base, APP_DIR_NAME_XDG);
}

/** The user's cache folder for the workstation (thumbnails, compiled graphs, feature caches). */
export function appCacheDir(p: PlatformEnv = {}): string {
  const { platform, env, home } = resolveEnv(p);
  if (platform === 'win32') {
    const base = absEnv(env, 'LOCALAPPDATA', path.win32) ?? path.win32.join(home, 'AppData', 'Local');
    return path.win32.join(base, APP_DIR_NAME, 'Cache');
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', APP_DIR_NAME);
  const base = absEnv(env, 'XDG_CACHE_HOME', path.posix) ?? path.posix.join(home, '.cache');
  return path.posix.join(base, APP_DIR_NAME_XDG);
}

export interface StoreLocation {
  /** Absolute path of the SQLite file. */
  db: string;
  /** Absolute path of the cache folder. */
  cacheDir: string;
  /** Where `db` came from. */
  source: 'option' | 'env' | 'default';
}

/**
 * Resolves the database file and its cache folder: an explicit path (`--db`) first, then
 * `SD4MATCH_DB`, then the app-data default. `SD4MATCH_CACHE` overrides the cache folder.
 */
export function resolveStoreLocation(explicitDb?: string, p: PlatformEnv = {}): StoreLocation {
  const { env } = resolveEnv(p);
  let db: string;
  let source: StoreLocation['source'];
  if (explicitDb) {
    db = path.resolve(explicitDb);
    source = 'option';
  } else if (env.SD4MATCH_DB) {
    db = path.resolve(env.SD4MATCH_DB);
    source = 'env';
  } else {
    db = (p.platform ?? process.platform) === 'win32' ? path.win32.join(appDataDir(p), DB_FILE_NAME) : path.posix.join(appDataDir(p), DB_FILE_NAME);
    source = 'default';
  }
  const cacheDir = env.SD4MATCH_CACHE ? path.resolve(env.SD4MATCH_CACHE) : source === 'default' ? appCacheDir(p) : `${db}-cache`;
  return { db, cacheDir, source };
}

/** The folder holding the rotating backups of the database `dbFile`: `<file>-backups/` beside it. */
export function backupDirFor(dbFile: string): string {
  return `${dbFile}-backups`;
}

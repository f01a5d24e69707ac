/** The app domain: versions, runtime and the execution provider in use; engine log lines. */
import { method, noArgs } from './spec.js';

/** One execution provider tried while opening the probe session, fastest first. */
export interface ProviderAttemptInfo {
  provider: string;
  ok: boolean;
  /** Why the provider could not be used (absent when it worked). */
  reason?: string;
}

/** What the status area shows about the engine and the runtime it runs on. */
export interface AppInfo {
  engineVersion: string;
  ortVersion: string;
  /** `<os>-<arch>`, e.g. `linux-x64`. */
  platform: string;
  /** The execution provider sessions actually run on (e.g. `cpu`, `cuda`, `webgpu`). */
  provider: string;
  providerAttempts: ProviderAttemptInfo[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A line of engine log the UI may show. */
export interface LogAppended {
  level: LogLevel;
  message: string;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Where the engine keeps its data (the status bar shows the database). */
export interface AppPaths {
  /** Absolute path of the SQLite database. */
  database: string;
  /** Thumbnails, compiled graphs, feature caches. */
  cacheDir: string;
  /** How the database was chosen: `--db`, $SD4MATCH_DB, or the app-data default. */
  source: 'option' | 'env' | 'default';
}

export const appMethods = {
  /** Engine and runtime versions and the execution provider in use. */
  'app:info': method<AppInfo>()(noArgs),
  /** The database file and cache folder this engine uses. */
  'app:paths': method<AppPaths>()(noArgs),
} as const;

export interface AppEvents {
  'log:appended': LogAppended;
}

export const APP_EVENTS: readonly (keyof AppEvents)[] = ['log:appended'];

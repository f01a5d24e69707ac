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

export const appMethods = {
  /** Engine and runtime versions and the execution provider in use. */
  'app:info': method<AppInfo>()(noArgs),
} as const;

export interface AppEvents {
  'log:appended': LogAppended;
}

export const APP_EVENTS: readonly (keyof AppEvents)[] = ['log:appended'];

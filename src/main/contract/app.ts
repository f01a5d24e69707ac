/** The app domain: versions, runtime and the execution provider in use; engine log lines. */
import { z } from 'zod';
import { PROVIDER_CHOICES, type ProviderChoice } from '../engine/onnx/providers.js';
import { method, noArgs } from './spec.js';

export { PROVIDER_CHOICES, type ProviderChoice };

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
  /** What was asked for: `auto` or a provider by name (the engine's setting, or its `--provider`). */
  requestedProvider: ProviderChoice;
  /** Where the request came from: the engine's `--provider` / SD4MATCH_PROVIDER, the Settings, or the default. */
  requestedBy: 'option' | 'settings' | 'default';
  /** One line: the request and what it resolved to, e.g. `auto -> cpu (webgpu skipped: software adapter llvmpipe ...)`. */
  providerNote: string;
  /** The WebGPU adapter the probe found (a software one is never chosen by `auto`). */
  adapter?: { name: string; software: boolean; reason: string };
  /** Why the provider asked for by name cannot run on this machine (work then fails to start). */
  providerError?: string;
}

/** The engine's settings, shared by every window and the jobs they start. */
export interface EngineSettings {
  /** The execution provider work started from the app runs on: `auto` or a provider by name. */
  provider: ProviderChoice;
}

export const settingsSchema = z.object({ provider: z.enum(PROVIDER_CHOICES).optional() }).strict();

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
  /** The engine's settings (stored with the database). */
  'app:settings': method<EngineSettings>()(noArgs),
  /** Changes the settings given; returns them all. A new provider applies to work started after it. */
  'app:setSettings': method<EngineSettings>()(settingsSchema),
} as const;

export interface AppEvents {
  'log:appended': LogAppended;
}

export const APP_EVENTS: readonly (keyof AppEvents)[] = ['log:appended'];

/**
 * Transport-agnostic handlers: one async function per contract method, grouped by domain in
 * handlers/<domain>.ts and merged here. They receive arguments that the adapter already validated
 * against the contract's schema, and return plain data or throw an `AppError`; encoding into
 * `{result}` / `{error}` is the transport's job (src/main/transport/).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InferenceHost } from '../engine/jobs/inference-host.js';
import { JobManager } from '../engine/jobs/manager.js';
import { openServices, type Services } from '../services/context.js';
import { EVENT_NAMES, type EventName, type EventPayload, type InvokeMethod, type InvokeParsedArgs, type InvokeResult } from './contract.js';
import { EventHub } from './events.js';
import { appHandlers } from './handlers/app.js';
import { jobHandlers } from './handlers/jobs.js';
import { modelHandlers } from './handlers/models.js';
import { datasetHandlers } from './handlers/datasets.js';
import { annotationHandlers } from './handlers/annotations.js';
import { pairHandlers } from './handlers/pairs.js';
import { runHandlers } from './handlers/runs.js';

export interface ApiOptions {
  /** Path of the SQLite store (default: $SD4MATCH_DB, else the app-data default). */
  db?: string;
  /** How job workers start (the Electron build passes its bundled worker). */
  workerScript?: () => { file: string | URL; execArgv?: string[]; eval?: boolean };
}

/** What every handler can reach. */
export interface ApiContext {
  readonly options: Readonly<ApiOptions>;
  readonly events: EventHub;
  readonly jobs: JobManager;
  /** The store and caches, opened on first use. */
  services(): Services;
  /** The long-lived inference worker (Compare), started on first use. */
  inference(): InferenceHost;
}

export type Handler<M extends InvokeMethod> = (args: InvokeParsedArgs<M>, ctx: ApiContext) => Promise<InvokeResult<M>>;
export type Handlers = { readonly [M in InvokeMethod]: Handler<M> };
/** A domain's share of the handlers. */
export type DomainHandlers<M extends InvokeMethod> = { readonly [K in M]: Handler<K> };

/** The service both transports serve: the handlers plus the event hub they push through. */
export interface Api {
  readonly handlers: Handlers;
  readonly context: ApiContext;
  readonly events: EventHub;
  /** Stops jobs (resumable ones checkpoint) and closes the store. */
  close(): Promise<void>;
}

export const handlers: Handlers = {
  ...appHandlers,
  ...jobHandlers,
  ...modelHandlers,
  ...datasetHandlers,
  ...annotationHandlers,
  ...pairHandlers,
  ...runHandlers,
};

/**
 * The worker when running from TypeScript sources (tsx): a small bootstrap registers tsx's loader
 * inside the worker, then imports the .ts entry (loader flags alone do not reach a worker's entry).
 */
export function sourceWorkerScript(): { file: string; eval: boolean } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const entry = pathToFileURL(path.join(here, '../engine/jobs/worker-entry.ts')).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return { file: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
}

export function createApi(options: ApiOptions = {}): Api {
  const events = new EventHub();
  let services: Services | null = null;
  const isEvent = (name: string): name is EventName => (EVENT_NAMES as readonly string[]).includes(name);
  const jobs = new JobManager({
    onUpdate: (info) => events.emit('job:updated', info),
    onEvent: (name, payload) => {
      if (isEvent(name)) events.emit(name, payload as EventPayload<typeof name>);
    },
    onLog: (job, message) => events.emit('log:appended', { level: 'info', message: `${job.title}: ${message}`, time: Date.now() }),
    workerScript: options.workerScript ?? sourceWorkerScript,
  });
  let inference: InferenceHost | null = null;
  const context: ApiContext = {
    options: { ...options },
    events,
    jobs,
    services: () => (services ??= openServices(options.db)),
    inference: () => (inference ??= new InferenceHost(options.workerScript ?? sourceWorkerScript, { db: context.services().store.file })),
  };
  return {
    handlers,
    context,
    events,
    async close() {
      await jobs.cancelAll();
      await inference?.close();
      inference = null;
      services?.close();
      services = null;
    },
  };
}

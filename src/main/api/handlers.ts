/**
 * Transport-agnostic handlers: one async function per contract method, grouped by domain in
 * handlers/<domain>.ts and merged here. They receive arguments that the adapter already validated
 * against the contract's schema, and return plain data or throw an `AppError`; encoding into
 * `{result}` / `{error}` is the transport's job (src/main/transport/).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobManager } from '../engine/jobs/manager.js';
import { openServices, type Services } from '../services/context.js';
import { EVENT_NAMES, type EventName, type EventPayload, type InvokeMethod, type InvokeParsedArgs, type InvokeResult } from './contract.js';
import { EventHub } from './events.js';
import { appHandlers } from './handlers/app.js';
import { jobHandlers } from './handlers/jobs.js';

export interface ApiOptions {
  /** Path of the SQLite store (default: $SD4MATCH_DB, else the app-data default). */
  db?: string;
  /** How job workers start (the Electron build passes its bundled worker). */
  workerScript?: () => { file: string | URL; execArgv?: string[] };
}

/** What every handler can reach. */
export interface ApiContext {
  readonly options: Readonly<ApiOptions>;
  readonly events: EventHub;
  readonly jobs: JobManager;
  /** The store and caches, opened on first use. */
  services(): Services;
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
};

/** The worker when running from TypeScript sources (tsx): the .ts entry with tsx's loader. */
export function sourceWorkerScript(): { file: string; execArgv: string[] } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return { file: path.join(here, '../engine/jobs/worker-entry.ts'), execArgv: ['--import', 'tsx'] };
}

export function createApi(options: ApiOptions = {}): Api {
  const events = new EventHub();
  let services: Services | null = null;
  const isEvent = (name: string): name is EventName => (EVENT_NAMES as readonly string[]).includes(name);
  const jobs = new JobManager({
    onUpdate: (info) => events.emit('job:updated', info),
    onEvent: (_job, name, payload) => {
      if (isEvent(name)) events.emit(name, payload as EventPayload<typeof name>);
    },
    onLog: (job, message) => events.emit('log:appended', { level: 'info', message: `${job.title}: ${message}`, time: Date.now() }),
    workerScript: options.workerScript ?? sourceWorkerScript,
  });
  const context: ApiContext = {
    options: { ...options },
    events,
    jobs,
    services: () => (services ??= openServices(options.db)),
  };
  return {
    handlers,
    context,
    events,
    async close() {
      await jobs.cancelAll();
      services?.close();
      services = null;
    },
  };
}

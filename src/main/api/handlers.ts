/**
 * Transport-agnostic handlers: one async function per contract method, grouped by domain in
 * handlers/<domain>.ts and merged here. They receive arguments that the adapter already validated
 * against the contract's schema, and return plain data or throw an `AppError`; encoding into
 * `{result}` / `{error}` is the transport's job (src/main/transport/).
 */
import { InferenceHost } from '../engine/jobs/inference-host.js';
import { sourceJobRuntime, type JobRuntime } from '../engine/jobs/job-process.js';
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
  /**
   * How job processes start (launcher, child entry, and the worker thread each hosts). Default:
   * forked Node children running the TypeScript sources through tsx; the Electron build passes
   * `utilityProcess` with its bundled out/main/job-process.js and out/main/worker.js.
   */
  jobRuntime?: () => JobRuntime;
}

/** What every handler can reach. */
export interface ApiContext {
  readonly options: Readonly<ApiOptions>;
  readonly events: EventHub;
  readonly jobs: JobManager;
  /** The store and caches, opened on first use. */
  services(): Services;
  /** The long-lived inference process (Compare), started on first use. */
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

/** The worker when running from TypeScript sources (moved to engine/jobs/job-process.ts). */
export { sourceWorkerScript } from '../engine/jobs/job-process.js';

export function createApi(options: ApiOptions = {}): Api {
  const events = new EventHub();
  let services: Services | null = null;
  const isEvent = (name: string): name is EventName => (EVENT_NAMES as readonly string[]).includes(name);
  const runtime = options.jobRuntime ?? sourceJobRuntime;
  const jobs = new JobManager({
    onUpdate: (info) => events.emit('job:updated', info),
    onEvent: (name, payload) => {
      if (isEvent(name)) events.emit(name, payload as EventPayload<typeof name>);
    },
    onLog: (job, message) => events.emit('log:appended', { level: 'info', message: `${job.title}: ${message}`, time: Date.now() }),
    runtime,
  });
  let inference: InferenceHost | null = null;
  const context: ApiContext = {
    options: { ...options },
    events,
    jobs,
    services: () => (services ??= openServices(options.db)),
    inference: () => (inference ??= new InferenceHost(runtime, { db: context.services().store.file })),
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

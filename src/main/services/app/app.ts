/**
 * The application: what every use case can reach. The store and caches (opened on first use), the
 * job manager whose jobs run in supervised job processes, the long-lived inference process
 * (Compare), and the event hub that tells every window what changed. The API handlers, the
 * transports and the Electron entry build on one of these; the CLI uses the services directly.
 */
import { InferenceHost } from '../../engine/jobs/inference-host.js';
import type { JobRuntime } from '../../engine/jobs/job-process.js';
import { JobManager } from '../../engine/jobs/manager.js';
import { openServices, type Services } from './context.js';
import { isEventName } from '../../contract/index.js';
import { EventHub } from './events.js';
import { type ImageFiles, imageFiles } from '../images/files.js';
import { sourceJobRuntime } from '../jobs/runtime.js';
import type { TaskMap, TaskRunner } from '../jobs/tasks.js';
import { noteRunsStoppedByClose, runJobs } from '../runs/lifecycle.js';

export interface AppOptions {
  /** Path of the SQLite store (default: $SD4MATCH_DB, else the app-data default). */
  db?: string;
  /**
   * How job processes start (launcher, child entry, and the worker thread each hosts). Default:
   * forked Node children running the TypeScript sources through tsx; the Electron build passes
   * `utilityProcess` with its bundled out/main/job-process.js and out/main/worker.js.
   */
  jobRuntime?: () => JobRuntime;
}

export interface AppContext {
  readonly options: Readonly<AppOptions>;
  readonly events: EventHub;
  /** Jobs, typed by the application's task map (services/jobs/tasks.ts). */
  readonly jobs: JobManager<TaskMap>;
  /** The store and caches, opened on first use. */
  services(): Services;
  /** The long-lived inference process (Compare), started on first use. */
  inference(): InferenceHost;
  /**
   * Annotate's warm suggestion processes, started on first use: `serve` answers one-image
   * suggestions from cached features; `prefetch` computes the next images' features at low priority.
   */
  suggestHosts(): { serve: InferenceHost; prefetch: InferenceHost };
  /** Image bytes for the image transports (the HTTP route, the Electron protocol). */
  readonly images: ImageFiles;
}

export interface App {
  readonly context: AppContext;
  /** Stops jobs (resumable ones checkpoint), the inference process, and closes the store. */
  close(): Promise<void>;
}

export function createApp(options: AppOptions = {}): App {
  const events = new EventHub();
  let services: Services | null = null;
  const runtime = options.jobRuntime ?? sourceJobRuntime;
  const jobs = new JobManager<TaskMap>({
    onUpdate: (info) => events.emit('job:updated', info),
    onEvent: (name, payload) => {
      if (isEventName(name)) events.emit(name, payload as never);
    },
    onLog: (job, message) => events.emit('log:appended', { level: 'info', message: `${job.title}: ${message}`, time: Date.now() }),
    runtime,
  });
  let inference: InferenceHost | null = null;
  let suggestHosts: { serve: InferenceHost; prefetch: InferenceHost } | null = null;
  const context: AppContext = {
    options: { ...options },
    events,
    jobs,
    services: () => (services ??= openServices(options.db)),
    inference: () => (inference ??= new InferenceHost(runtime, { db: context.services().store.file })),
    suggestHosts: () =>
      (suggestHosts ??= {
        serve: new InferenceHost(runtime, { db: context.services().store.file }, 'suggest-host'),
        prefetch: new InferenceHost(runtime, { db: context.services().store.file, background: true }, 'suggest-host'),
      }),
    images: imageFiles(() => context.services()),
  };
  return {
    context,
    async close() {
      // the runs its jobs hold end cancelled (training checkpoints first), saying the app closed
      const held = [...runJobs(context).keys()];
      await jobs.cancelAll();
      if (services && held.length) {
        const svc = services;
        try {
          svc.store.writeSync(() => noteRunsStoppedByClose(svc, held));
        } catch {
          // a locked store: the run still ended cancelled, without the note
        }
      }
      await inference?.close();
      inference = null;
      // background work: nothing to finish
      suggestHosts?.prefetch.kill('the app closed');
      await suggestHosts?.serve.close();
      suggestHosts = null;
      services?.close();
      services = null;
    },
  };
}

/** The API's task runner: each task in a job process of the context's job manager, as part of the job running it. */
export function jobRunner(ctx: AppContext): TaskRunner {
  return (name, payload, task) => ctx.jobs.inProcess(name, payload, task);
}

/**
 * Job processes in the desktop app: Electron's `utilityProcess` (a Node child that Chromium
 * launches and supervises), behind the engine's launcher interface (engine/jobs/job-process.ts).
 * The child talks through `process.parentPort` (engine/jobs/process-entry.ts handles both kinds).
 */
import { EventEmitter } from 'node:events';
import { app, utilityProcess, type UtilityProcess } from 'electron';
import { type JobProcess, type JobProcessEntry, type JobProcessExit, type JobProcessLauncher, jobProcessEnv, type LaunchOptions, type ToJobProcess } from '../engine/jobs/job-process.js';
import { utilityExit, type GoneDetails } from './utility-exit.js';

/** How long an abnormal exit waits for its 'child-process-gone' details (they may come second). */
const DETAILS_WAIT_MS = 1000;

let serial = 0;
const details = new Map<string, GoneDetails>();
const waiting = new Map<string, (d: GoneDetails) => void>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  app.on('child-process-gone', (_event, d) => {
    if (d.type !== 'Utility' || !d.name) return;
    const w = waiting.get(d.name);
    if (w) w(d);
    else details.set(d.name, d);
  });
}

function detailsOf(name: string, code: number): Promise<GoneDetails | undefined> {
  const known = details.get(name);
  details.delete(name);
  if (known || code === 0) return Promise.resolve(known);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(name);
      resolve(undefined);
    }, DETAILS_WAIT_MS);
    waiting.set(name, (d) => {
      clearTimeout(timer);
      waiting.delete(name);
      resolve(d);
    });
  });
}

class UtilityJobProcess extends EventEmitter implements JobProcess {
  private readonly child: UtilityProcess;
  private readonly name: string;
  private spawnedPid: number | undefined;
  private ended = false;

  constructor(entry: JobProcessEntry, options: LaunchOptions) {
    super();
    listen();
    // a unique name ties 'child-process-gone' details to this process
    this.name = `${options.name} #${++serial}`;
    this.child = utilityProcess.fork(entry.file, [], { serviceName: this.name, execArgv: entry.execArgv, env: jobProcessEnv(), stdio: 'inherit' });
    this.child.on('spawn', () => {
      this.spawnedPid = this.child.pid;
      this.emit('spawn');
    });
    this.child.on('message', (m: unknown) => this.emit('message', m));
    this.child.on('exit', (code: number) => {
      void detailsOf(this.name, code).then((d) => this.end(utilityExit(code, d)));
    });
  }

  /** Kept after the exit (Electron forgets it), so the supervisor can find the runs it ran. */
  get pid(): number | undefined {
    return this.spawnedPid ?? this.child.pid;
  }

  postMessage(message: ToJobProcess): void {
    if (!this.ended) this.child.postMessage(message);
  }

  kill(): void {
    if (!this.ended) this.child.kill();
  }

  private end(exit: JobProcessExit): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('exit', exit);
  }
}

/** Job processes as Electron utility processes (call after the app is ready). */
export const utilityLauncher: JobProcessLauncher = {
  launch: (entry, options) => new UtilityJobProcess(entry, options),
};

/**
 * How job processes start when running from the TypeScript sources (`sd4match serve`, the CLI, the
 * tests): forked Node children running engine/jobs/process-entry.ts, each hosting a worker thread
 * that runs worker-entry.ts (this folder's: it runs the services' tasks). The Electron build passes
 * its bundled out/main/job-process.js and out/main/worker.js instead (src/main/index.ts).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { forkLauncher, type JobRuntime, sourceProcessEntry } from '../../engine/jobs/job-process.js';

/**
 * The worker from the TypeScript sources (tsx): a small bootstrap registers tsx's loader inside the
 * worker, then imports the .ts entry (loader flags alone do not reach a worker's entry).
 */
export function sourceWorkerScript(): { file: string; eval: boolean } {
  const entry = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-entry.ts')).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return { file: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
}

/** Forked Node children running the sources. */
export function sourceJobRuntime(): JobRuntime {
  return { launcher: forkLauncher, entry: sourceProcessEntry(), worker: sourceWorkerScript() };
}

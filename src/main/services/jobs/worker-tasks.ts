/**
 * The worker's dispatch: each task of the task map (tasks.ts) to its body, which lives beside its
 * use cases. Each body opens its own services (a separate SQLite connection; WAL lets the engine
 * read meanwhile), does its work and returns a small result. The worker runs in a job process, so
 * `process.pid` here (what runs.start() records) is that child's. Bodies load on first use, so a
 * worker only loads what its task needs.
 */
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { TaskBody, TaskEmit, TaskName } from './tasks.js';

export const WORKER_TASKS: { readonly [K in TaskName]: TaskBody<K> } = {
  compile: async (p, task) => (await import('../models/compile-task.js')).compileTask(p, task),
  inference: async (p) => (await import('../compare/inference-task.js')).inferenceTask(p),
  train: async (p, task, emit) => (await import('../training/task.js')).trainTask(p, task, emit),
  eval: async (p, task) => (await import('../evaluation/task.js')).evalTask(p, task),
  'eval-report': async (p, task) => (await import('../evaluation/task.js')).evalReportTask(p, task),
  suggest: async (p, task, emit) => (await import('../suggest/task.js')).suggestTask(p, task, emit),
  'suggest-preview': async (p, task, emit) => (await import('../suggest/task.js')).suggestPreviewTask(p, task, emit),
  'suggest-host': async (p) => (await import('../suggest/host-task.js')).suggestHostTask(p),
  'suggest-eval': async (p, task) => (await import('../suggest/task.js')).suggestEvalTask(p, task),
  generate: async (p, task, emit) => (await import('../generate/task.js')).generateTask(p, task, emit),
  sweep: async (p, task) => (await import('../sweeps/task.js')).sweepTask(p, task),
};

type AnyTaskBody = (payload: unknown, task: TaskContext, emit: TaskEmit) => Promise<unknown>;

/**
 * The body of a task named at run time (the worker's start message), or undefined for an unknown
 * name: the one place a payload is not typed, as the sender typed it for the task it named.
 */
export function workerTask(name: string): AnyTaskBody | undefined {
  return Object.hasOwn(WORKER_TASKS, name) ? (WORKER_TASKS[name as TaskName] as AnyTaskBody) : undefined;
}

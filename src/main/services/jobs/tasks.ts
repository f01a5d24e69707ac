/**
 * The tasks a job process runs, by name: one map from each task's name to the payload its sender
 * passes and the result its worker returns. The job manager (`JobManager<TaskMap>`), the worker's
 * dispatch (worker-tasks.ts) and every caller (the API's use cases, the CLI) are typed by it, so
 * a payload that does not fit its task is a type error on both sides of the process boundary.
 * Each task's body lives beside its use cases (services/<domain>/task.ts).
 */
import type { JobRuntime } from '../../engine/jobs/job-process.js';
import { runInProcess } from '../../engine/jobs/job-process.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { EvalReport } from '../../engine/sd4match/matching/evaluate.js';
import type { SuggestEvalReport } from '../../contract/index.js';
import type { CompiledModel } from '../models/compile-task.js';
import type { TrainRequest } from '../training/train.js';
import type { TrainedPrompt } from '../training/task.js';
import type { EvalTaskArgs } from '../evaluation/task.js';
import type { SuggestOutcome, SuggestPlan } from '../suggest/plan.js';
import type { GenerationPlan } from '../generate/plan.js';
import type { SweepOutcome, SweepPlan } from '../sweeps/plan.js';

/** Task name -> what its sender passes and what its worker returns (both cross as structured clones). */
export type TaskMap = {
  /** Compiles a Stable Diffusion folder's graphs into the cache and learns the provider. */
  compile: { payload: { folder: string; cacheDir: string }; result: CompiledModel };
  /** Serves Compare requests and memory estimates until told to stop (engine/jobs/inference-host.ts). */
  inference: { payload: { db?: string }; result: null };
  /** Trains a prompt: a new run from settings, a run queued by the API, or a resume (`TrainRequest`). */
  train: { payload: { db: string; request: TrainRequest; narrate?: boolean }; result: TrainedPrompt };
  /** Evaluates a prompt; the result is a summary for the job list. */
  eval: { payload: { db: string; args: EvalTaskArgs }; result: EvalSummary };
  /** Evaluates a prompt; the result is the whole report (per pair included), for the CLI. */
  'eval-report': { payload: { db: string; args: EvalTaskArgs }; result: { runId: number | null; promptId: number | null; report: EvalReport } };
  /** Suggests keypoints for a plan's targets, storing and announcing each image's set. */
  suggest: { payload: { db: string; plan: SuggestPlan }; result: { images: number; seconds: number } };
  /** Suggests keypoints for a plan's targets and returns the sets; writes nothing (the CLI). */
  'suggest-preview': { payload: { db: string; plan: SuggestPlan }; result: SuggestOutcome };
  /** Serves Annotate's suggestions and prefetches the next images' features until told to stop (services/suggest/host-task.ts). */
  'suggest-host': { payload: { db: string; background?: boolean }; result: null };
  /** Measures suggestion quality on labelled images; writes nothing. */
  'suggest-eval': { payload: { db: string; plan: SuggestPlan; acceptThreshold: number }; result: SuggestEvalReport };
  /** Generates a plan's missing images, each stored and announced when it is done. */
  generate: { payload: { db: string; plan: GenerationPlan }; result: { images: number; seconds: number; provider: string | null } };
  /** Evaluates prompts over timesteps: one stored evaluation run per prompt and timestep. */
  sweep: { payload: { db: string; plan: SweepPlan }; result: SweepOutcome };
};

export type TaskName = keyof TaskMap;
export type TaskPayload<K extends TaskName> = TaskMap[K]['payload'];
export type TaskResult<K extends TaskName> = TaskMap[K]['result'];

/** What an evaluation job reports in the job list: its run, and PCK per method and alpha (per image). */
export interface EvalSummary {
  runId: number | null;
  promptId: number | null;
  pairs: number;
  pck: Record<string, Record<string, number>>;
}

/** Domain events a task posts to whoever started it (training steps, generated images, suggestions). */
export type TaskEmit = (name: string, payload: unknown) => void;

/** A task's body as the worker runs it. */
export type TaskBody<K extends TaskName> = (payload: TaskPayload<K>, task: TaskContext, emit: TaskEmit) => Promise<TaskResult<K>>;

/**
 * Runs a named task in a job process on behalf of a task context: the API's job manager
 * (`ctx.jobs.inProcess`) or, in a command, a job process the command supervises itself.
 */
export type TaskRunner = <K extends TaskName>(name: K, payload: TaskPayload<K>, task: TaskContext) => Promise<TaskResult<K>>;

/** A runner for a command line: each task in its own job process, started from `runtime`. */
export function processRunner(runtime: JobRuntime): TaskRunner {
  return (name, payload, task) => runInProcess<TaskResult<typeof name>>(runtime, name, payload, task);
}

/**
 * What a job process's death means for the runs it was running. The dead process cannot record
 * its own end, so the supervisor (the API's job, the CLI) marks those runs failed with the reason
 * and says, in the error the job or command ends with, how to go on: a training run resumes from
 * its last checkpoint.
 */
import { AppError } from '../../shared/errors.js';
import type { Services } from '../app/context.js';
import { checkpointStep } from './lifecycle.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import { JobProcessGone } from '../../engine/jobs/job-process.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { TaskName, TaskPayload, TaskResult, TaskRunner } from '../jobs/tasks.js';

export interface ProcessDeathOptions {
  /** Runs created for the process that may not have started yet (still 'queued'). */
  runIds?: readonly number[];
  /** How the user resumes a training run (the CLI names its command). */
  resumeHint?(runId: number): string;
}

/**
 * Marks failed the runs the dead process was running (those 'running' under its pid, and the
 * given ones still queued) and returns the error the job ends with: what happened to the process,
 * then what became of each run and whether it can be resumed from a checkpoint, and at which step.
 */
export async function recordProcessDeath(svc: Services, gone: JobProcessGone, opts: ProcessDeathOptions = {}): Promise<AppError> {
  const told: string[] = [];
  const outcome = (r: RunRecord): string => {
    if (r.kind === 'eval') return `evaluation run ${r.id} is marked failed`;
    const step = checkpointStep(svc, r.id);
    if (step === null) return `run ${r.id} is marked failed; it had not written a checkpoint yet, so start it again`;
    return `run ${r.id} is marked failed and can be resumed from its checkpoint at step ${step}${opts.resumeHint ? ` (${opts.resumeHint(r.id)})` : ''}`;
  };
  await svc.store.write(() =>
    svc.repos.runs.failRunsOfProcess(
      gone.pid,
      (r) => {
        const o = outcome(r);
        told.push(o);
        return `${gone.message}; ${o}`;
      },
      opts.runIds ?? [],
    ),
  );
  return new AppError('PROCESS_GONE', [gone.message, ...told].join('; '));
}

/**
 * Runs a task that trains or evaluates in a job process (`run`: the API's job manager, or a process
 * a command supervises); if the process dies, the runs it was running (and `opts.runIds` not
 * started yet) are marked failed here and the error says how to go on.
 */
export async function inRunProcess<K extends TaskName>(run: TaskRunner, svc: Services, name: K, payload: TaskPayload<K>, task: TaskContext, opts: ProcessDeathOptions = {}): Promise<TaskResult<K>> {
  try {
    return await run(name, payload, task);
  } catch (e) {
    if (e instanceof JobProcessGone) throw await recordProcessDeath(svc, e, opts);
    throw e;
  }
}

/**
 * The `train` task (job process): trains a prompt, a new run from settings, a run queued by the API,
 * or a resume (see `TrainRequest`), relaying the run's start, steps and validations as events.
 * `narrate` also logs the run's start and each validation as lines for a terminal (the CLI).
 */
import type { TaskContext } from '../../engine/jobs/progress.js';
import { openServices } from '../app/context.js';
import { runTraining, type TrainRequest } from './train.js';

/** What the `train` task returns: the run, its prompt, and enough of the losses for a summary. */
export interface TrainedPrompt {
  runId: number;
  promptId: number;
  steps: number;
  bestPck: number | null;
  bestStep: number | null;
  promptFile: string;
  seconds: number;
  provider: string;
  /** Steps run by this job (a resumed run's count starts at its checkpoint). */
  stepsRun: number;
  /** Losses of the first and the last 20 steps run. */
  lossHead: number[];
  lossTail: number[];
}

export async function trainTask(p: { db: string; request: TrainRequest; narrate?: boolean }, task: TaskContext, emit: (name: string, payload: unknown) => void): Promise<TrainedPrompt> {
  const svc = openServices(p.db, { job: true });
  const narrate = p.narrate ? (m: string) => task.log?.(m) : () => {};
  try {
    const r = await runTraining(svc, p.request, task, {
      onStart: (s) => {
        narrate(
          `run ${s.runId}: ${s.config.prompt} prompt, ${s.config.steps} steps of ${s.config.batch} pairs at ${s.config.size}px, provider ${s.provider}${s.resumedFrom ? `, resumed at step ${s.resumedFrom}` : ''}`,
        );
        emit('train:started', { runId: s.runId, provider: s.provider, resumedFrom: s.resumedFrom, steps: s.config.steps });
      },
      onStep: (s) => emit('train:step', { runId: s.runId, step: s.step, loss: s.loss, lr: s.lr, stepsPerSecond: s.stepsPerSecond, etaSeconds: s.etaSeconds }),
      onValidation: (v) => {
        narrate(`step ${v.step}: validation PCK@0.1 ${(100 * v.pck['0.1']).toFixed(1)}%${v.best ? ' (best so far)' : ''}`);
        emit('train:validation', { runId: v.runId, step: v.step, pck: v.pck, best: v.best });
      },
      onLog: (m) => task.log?.(m),
    });
    const losses = r.result.losses;
    return {
      runId: r.runId,
      promptId: r.promptId,
      steps: r.result.steps,
      bestPck: r.result.bestPck,
      bestStep: r.result.bestStep,
      promptFile: r.result.promptFile,
      seconds: r.seconds,
      provider: r.provider,
      stepsRun: losses.length,
      lossHead: losses.slice(0, 20),
      lossTail: losses.slice(-20),
    };
  } finally {
    svc.close();
  }
}

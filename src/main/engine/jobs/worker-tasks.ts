/**
 * Tasks a job worker can run, by name. Each opens its own services (a separate SQLite connection;
 * WAL lets the engine thread read meanwhile), does its work and returns a small JSON result.
 */
import type { TaskContext } from './progress.js';

export type WorkerTask = (payload: unknown, task: TaskContext, emit: (name: string, payload: unknown) => void) => Promise<unknown>;

export const WORKER_TASKS: Record<string, WorkerTask> = {
  async train(payload, task, emit) {
    const { openServices } = await import('../../services/context.js');
    const { runTraining } = await import('../../services/training.js');
    const p = payload as { db: string; args: Parameters<typeof runTraining>[1]; resume?: number };
    const svc = openServices(p.db);
    try {
      const r = await runTraining(
        svc,
        p.args,
        task,
        {
          onStart: (s) => emit('train:started', { runId: s.runId, provider: s.provider, resumedFrom: s.resumedFrom, steps: s.config.steps }),
          onStep: (s) => emit('train:step', { runId: s.runId, step: s.step, loss: s.loss, lr: s.lr, stepsPerSecond: s.stepsPerSecond, etaSeconds: s.etaSeconds }),
          onValidation: (v) => emit('train:validation', { runId: v.runId, step: v.step, pck: v.pck, best: v.best }),
          onLog: (m) => task.log?.(m),
        },
        p.resume,
      );
      return { runId: r.runId, promptId: r.promptId, steps: r.result.steps, bestPck: r.result.bestPck, promptFile: r.result.promptFile, seconds: r.seconds };
    } finally {
      svc.close();
    }
  },
  async eval(payload, task) {
    const { openServices } = await import('../../services/context.js');
    const { runEvaluation } = await import('../../services/evaluation.js');
    const p = payload as { db: string; args: Parameters<typeof runEvaluation>[1] };
    const svc = openServices(p.db);
    try {
      const r = await runEvaluation(svc, p.args, task);
      return { runId: r.runId, promptId: r.promptId, pairs: r.report.pairs, pck: Object.fromEntries(Object.entries(r.report.pck).map(([m, t]) => [m, Object.fromEntries(Object.entries(t).map(([a, x]) => [a, x.image]))])) };
    } finally {
      svc.close();
    }
  },
};

/**
 * Tasks a job worker can run, by name. Each opens its own services (a separate SQLite connection;
 * WAL lets the engine read meanwhile), does its work and returns a small result. The worker runs
 * in a job process, so `process.pid` here (what runs.start() records) is that child's.
 */
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { EvalArgs } from '../evaluation/evaluate.js';
import type { TaskContext } from '../../engine/jobs/progress.js';

export type WorkerTask = (payload: unknown, task: TaskContext, emit: (name: string, payload: unknown) => void) => Promise<unknown>;

/** What compiling a Stable Diffusion folder yields (the `compile` task). */
export interface CompiledModel {
  key: string;
  dir: string;
  modelHash: string;
  hiddenSize: number;
  /** The execution provider a session on this model got (null if opening one failed). */
  provider: string | null;
}

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

/** The `eval` task's arguments: a stored prompt by id, or a prompt as it is. */
export type EvalTaskArgs = Omit<EvalArgs, 'prompt' | 'promptName' | 'promptId'> & { promptId?: number; prompt?: PromptSpec };

export const WORKER_TASKS: Record<string, WorkerTask> = {
  /**
   * Compiles a Stable Diffusion folder's SD4Match graphs (folder checks, content hashes, UNet
   * feature graph, text graphs; cached by content hash) and opens a session to learn the provider.
   * Compiled graphs are written to a temporary folder and renamed into the cache, so a stopped
   * compile leaves nothing half-written behind.
   */
  async compile(payload, task): Promise<CompiledModel> {
    const { SdModel } = await import('../../engine/sd4match/model/sd-model.js');
    const p = payload as { folder: string; cacheDir: string };
    const sd = SdModel.open(p.folder, { cacheDir: p.cacheDir, task });
    try {
      const compiled = { key: sd.compiled.key, dir: sd.compiled.dir, modelHash: sd.compiled.modelHash, hiddenSize: sd.folder.hiddenSize };
      task.progress({ stage: 'opening a session', done: 0, total: 1, detail: 'execution provider' });
      const provider = await sd.provider().catch(() => null);
      task.progress({ stage: 'opening a session', done: 1, total: 1 });
      return { ...compiled, provider };
    } finally {
      await sd.dispose();
    }
  },
  /** Serves Compare requests until told to stop (see inference-host.ts). */
  async inference(payload) {
    const { parentPort } = await import('node:worker_threads');
    const { carryError } = await import('../../shared/errors.js');
    const { openServices } = await import('../app/context.js');
    const { CompareService } = await import('../compare/inference.js');
    const p = payload as { db?: string };
    const svc = openServices(p.db);
    const compare = new CompareService(svc);
    const port = parentPort!;
    let queue: Promise<unknown> = Promise.resolve();
    await new Promise<void>((stop) => {
      port.on('message', (m: { type: string; id?: number; method?: string; args?: unknown }) => {
        if (m.type === 'stop') {
          void queue.then(() => stop());
          return;
        }
        if (m.type !== 'request') return;
        // one request at a time: sessions are not shared across concurrent runs
        queue = queue.then(async () => {
          try {
            const methods = ['predict', 'heatmap', 'estimateFeatures', 'estimateTraining', 'estimateGeneration'] as const;
            const method = m.method as (typeof methods)[number];
            if (!methods.includes(method)) throw new Error(`unknown inference method '${m.method}'`);
            const result = await compare[method](m.args as never);
            port.postMessage({ type: 'response', id: m.id, result });
          } catch (err) {
            port.postMessage({ type: 'response', id: m.id, error: carryError(err) });
          }
        });
      });
      port.postMessage({ type: 'ready' });
    });
    await compare.dispose();
    svc.close();
    return null;
  },
  /**
   * Trains a prompt: a new run from settings, a run queued by the API, or a resume (see
   * `TrainRequest`). `narrate` also logs the run's start and each validation as lines for a
   * terminal (the CLI).
   */
  async train(payload, task, emit) {
    const { openServices } = await import('../app/context.js');
    const { runTraining } = await import('../training/train.js');
    const p = payload as { db: string; request: Parameters<typeof runTraining>[1]; narrate?: boolean };
    const svc = openServices(p.db);
    const narrate = p.narrate ? (m: string) => task.log?.(m) : () => {};
    try {
      const r = await runTraining(
        svc,
        p.request,
        task,
        {
          onStart: (s) => {
            narrate(`run ${s.runId}: ${s.config.prompt} prompt, ${s.config.steps} steps of ${s.config.batch} pairs at ${s.config.size}px, provider ${s.provider}${s.resumedFrom ? `, resumed at step ${s.resumedFrom}` : ''}`);
            emit('train:started', { runId: s.runId, provider: s.provider, resumedFrom: s.resumedFrom, steps: s.config.steps });
          },
          onStep: (s) => emit('train:step', { runId: s.runId, step: s.step, loss: s.loss, lr: s.lr, stepsPerSecond: s.stepsPerSecond, etaSeconds: s.etaSeconds }),
          onValidation: (v) => {
            narrate(`step ${v.step}: validation PCK@0.1 ${(100 * v.pck['0.1']).toFixed(1)}%${v.best ? ' (best so far)' : ''}`);
            emit('train:validation', { runId: v.runId, step: v.step, pck: v.pck, best: v.best });
          },
          onLog: (m) => task.log?.(m),
        },
      );
      const losses = r.result.losses;
      const result: TrainedPrompt = {
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
      return result;
    } finally {
      svc.close();
    }
  },
  /**
   * Suggests keypoints for a plan's targets (services/suggest.ts). With `store`, each image's
   * pending set is stored as it is done and announced (`suggest:changed`), and the result is a
   * count; without (the CLI), nothing is written and the result is the sets.
   */
  async suggest(payload, task, emit) {
    const { openServices } = await import('../app/context.js');
    const { runSuggestPlan } = await import('../suggest/suggest.js');
    const p = payload as { db: string; plan: import('../suggest/suggest.js').SuggestPlan; store: boolean };
    const svc = openServices(p.db);
    try {
      const r = await runSuggestPlan(svc, p.plan, task, { store: p.store, emit });
      return p.store ? { images: r.sets.length, seconds: r.sets.reduce((t, s) => t + s.seconds, 0) } : r;
    } finally {
      svc.close();
    }
  },
  /** Generates a plan's images (services/generate.ts), each stored and announced when it is done. */
  async generate(payload, task, emit) {
    const { openServices } = await import('../app/context.js');
    const { runGenerationPlan } = await import('../generate/generate.js');
    const p = payload as { db: string; plan: import('../generate/generate.js').GenerationPlan };
    const svc = openServices(p.db);
    try {
      return await runGenerationPlan(svc, p.plan, task, emit);
    } finally {
      svc.close();
    }
  },
  /** Evaluates prompts over timesteps (services/sweeps.ts): one stored evaluation run per prompt and timestep. */
  async sweep(payload, task) {
    const { openServices } = await import('../app/context.js');
    const { runSweep } = await import('../sweeps/sweeps.js');
    const p = payload as { db: string; plan: import('../sweeps/sweeps.js').SweepPlan };
    const svc = openServices(p.db);
    try {
      return await runSweep(svc, p.plan, task);
    } finally {
      svc.close();
    }
  },
  /** Measures suggestion quality on labelled images (a SuggestEvalReport); writes nothing. */
  async 'suggest-eval'(payload, task) {
    const { openServices } = await import('../app/context.js');
    const { runSuggestEval } = await import('../suggest/suggest.js');
    const p = payload as { db: string; plan: import('../suggest/suggest.js').SuggestPlan; acceptThreshold: number };
    const svc = openServices(p.db);
    try {
      return await runSuggestEval(svc, p.plan, task, p.acceptThreshold);
    } finally {
      svc.close();
    }
  },
  /**
   * Evaluates a stored prompt (`promptId`, the API) or a prompt given as it is (`prompt`, the CLI).
   * `full` returns the whole report (per pair included); otherwise a summary for the job list.
   */
  async eval(payload, task) {
    const { openServices } = await import('../app/context.js');
    const { runEvaluation } = await import('../evaluation/evaluate.js');
    const { promptSpecOf } = await import('../prompts/resolve.js');
    const p = payload as { db: string; args: EvalTaskArgs; full?: boolean };
    const svc = openServices(p.db);
    try {
      const { promptId, prompt, ...rest } = p.args;
      const spec = prompt ? { spec: prompt, name: undefined } : promptSpecOf(svc, promptId!);
      const r = await runEvaluation(svc, { ...rest, prompt: spec.spec, promptName: spec.name, promptId }, task);
      if (p.full) return { runId: r.runId, promptId: r.promptId, report: r.report };
      return { runId: r.runId, promptId: r.promptId, pairs: r.report.pairs, pck: Object.fromEntries(Object.entries(r.report.pck).map(([m, t]) => [m, Object.fromEntries(Object.entries(t).map(([a, x]) => [a, x.image]))])) };
    } finally {
      svc.close();
    }
  },
};

/**
 * SD4Match prompt tuning: Single (one prompt), Class (one per category) and CPM (conditional
 * prompting module) runs, every tensor computation in ONNX Runtime. One step:
 *   data (batch of pairs, cached VAE moments, fresh noise: training-batch.ts) -> the batch's
 *   prompt token embeddings (the prompt kind: prompt-kinds/) -> step graph (text encoder, features
 *   of 2B images, loss, d loss / d token embeddings: step-graph-cache.ts) -> parameter gradients
 *   (the prompt kind; CPM through its VJP) -> Adam per parameter (CPM's linear layers at a tenth
 *   of the rate; its moments stay on the device between steps on WebGPU: adam.ts).
 * Validation PCK@0.1 keeps the best prompt; checkpoints (training-checkpoint.ts) resume bit-exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError, CancelledError } from '../../../shared/errors.js';
import type { TensorCache } from '../../cache/tensor-cache.js';
import type { TaskContext } from '../../jobs/progress.js';
import type { HostTensor } from '../../onnx/ir.js';
import { ADAM_DEFAULTS, AdamOptimizer, type AdamState, zerosLike } from './adam.js';
import { type EvalPair, evaluate } from '../matching/evaluate.js';
import type { DinoFolder } from '../model/model-folder.js';
import { Pipeline } from '../features/pipeline.js';
import { PROMPT_KINDS, type PromptKindSpec, type PromptStrategy } from '../prompts/kinds/index.js';
import { type LearnedPrompt, type PromptMeta, saveLearnedPrompt } from '../prompts/prompts.js';
import { Rng } from '../features/random.js';
import type { SdModel } from '../model/sd-model.js';
import { promptIndex, StepGraph } from './step-graph-cache.js';
import { padPrompts } from '../prompts/token-rows.js';
import type { TrainConfig } from './train-config.js';
import { batchFeeds, firstOrder, keypointRows, nextPairs } from './training-batch.js';
import { CHECKPOINT_FILE, readCheckpoint, type RunState, writeCheckpoint } from './training-checkpoint.js';

// the services size a run's memory with the keypoint rows its step graph will have

export interface TrainData {
  train: EvalPair[];
  val: EvalPair[];
  benchmark: 'spair' | 'pfpascal' | 'pfwillow' | 'generic';
  dataset: string;
}

export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  stepsPerSecond: number;
  etaSeconds: number;
  /**
   * Milliseconds of the step: data (images, moments, noise, prompts), the step graph (text
   * encoder, UNet, loss and the backward pass to the prompt tokens), prompt gradients (CPM's VJP,
   * token rows), optimizer.
   */
  timings: { data: number; graph: number; prompt: number; optimizer: number };
}

export interface ValidationReport {
  step: number;
  pck: Record<string, number>;
  best: boolean;
}

export interface TrainHooks {
  onStep?(r: StepReport): void;
  onValidation?(r: ValidationReport): void;
  onCheckpoint?(c: { step: number; file: string }): void;
  onLog?(message: string): void;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  losses: number[];
  bestPck: number | null;
  bestStep: number | null;
  prompt: LearnedPrompt;
  promptFile: string;
}

function f32(dims: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data };
}

export class Trainer {
  private readonly pipe: Pipeline;
  /** The prompt kind, picked once: nothing below asks which kind it trains. */
  private readonly kind: PromptKindSpec;
  private readonly strategy: PromptStrategy;
  /**
   * The run's state between steps. While `run` runs, the Adam moments are the optimiser's (on
   * WebGPU in device memory) and `state.adam` holds those it started from; checkpoints ask the
   * optimiser.
   */
  private state!: RunState;
  private rng!: Rng;
  /** Adam over the parameters, while `run` runs. */
  private optimizer: AdamOptimizer | null = null;
  private readonly N: number;

  constructor(
    readonly sd: SdModel,
    readonly dino: DinoFolder | null,
    readonly data: TrainData,
    readonly cfg: TrainConfig,
    readonly opts: { runDir: string; runId: string; cache: TensorCache; task: TaskContext; hooks?: TrainHooks },
  ) {
    if (data.train.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset ${data.dataset} has no training pairs`);
    if (cfg.batch > data.train.length) {
      throw new AppError('INVALID_ARGUMENT', `batch ${cfg.batch} is larger than the ${data.train.length} training pairs of ${data.dataset}`);
    }
    this.kind = PROMPT_KINDS[cfg.prompt];
    this.kind.checkModels(dino);
    if (cfg.steps < 1 || cfg.batch < 1 || cfg.accumulate < 1) throw new AppError('INVALID_ARGUMENT', 'steps, batch and accumulate must be at least 1');
    if (cfg.size % 8 !== 0) throw new AppError('INVALID_ARGUMENT', `image size must be a multiple of 8, got ${cfg.size}`);
    this.N = keypointRows(data.train);
    this.pipe = new Pipeline(sd, { kind: 'empty' }, { size: cfg.size, timestep: cfg.timestep, ensemble: 1, seed: cfg.seed }, opts.cache, dino);
    this.strategy = this.kind.create({ sd, pipe: this.pipe, cfg, train: data.train });
  }

  private log(m: string): void {
    this.opts.hooks?.onLog?.(m);
  }

  /** A new run's state: the seed's generator draws the initial parameters, then the data order. */
  private async initialState(): Promise<RunState> {
    const rng = new Rng(this.cfg.seed);
    const params = await this.strategy.init(rng);
    const adam: Record<string, AdamState> = {};
    for (const [k, v] of Object.entries(params)) adam[k] = { m: zerosLike(v), v: zerosLike(v) };
    return { step: 0, params, adam, rng: rng.state(), order: firstOrder(rng, this.data.train.length), bestPck: null, best: null, bestStep: null };
  }

  private get checkpointOwner() {
    return { config: this.cfg, modelHash: this.sd.compiled.modelHash };
  }

  /** Starts a new run or resumes from the run folder's checkpoint. */
  async prepare(resume: boolean): Promise<void> {
    fs.mkdirSync(this.opts.runDir, { recursive: true });
    const ck = path.join(this.opts.runDir, CHECKPOINT_FILE);
    // a resumed run too: the prompt kind builds its fixed rows here
    this.state = await this.initialState();
    if (resume) {
      if (!fs.existsSync(ck)) throw new AppError('NOT_FOUND', `run ${this.opts.runId} has no checkpoint to resume from (${ck})`);
      this.state = readCheckpoint(ck, this.checkpointOwner, Object.keys(this.state.params));
      this.log(`resumed at step ${this.state.step}`);
    }
    this.rng = Rng.restore(this.state.rng);
  }

  private lrAt(step: number): number {
    const { lr, schedule, steps } = this.cfg;
    if (schedule === 'linear') return lr * (1 - step / steps);
    if (schedule === 'cosine') return lr * 0.5 * (1 + Math.cos((Math.PI * step) / steps));
    return lr;
  }

  private async microStep(step: StepGraph, batch: EvalPair[]): Promise<{ loss: number; grads: Record<string, HostTensor>; t: { data: number; graph: number; prompt: number } }> {
    const t0 = Date.now();
    const feeds = await batchFeeds({ sd: this.sd, pipe: this.pipe, step, rng: this.rng }, batch, { size: this.cfg.size, timestep: this.cfg.timestep, N: this.N });
    const prompts = await this.strategy.batchPrompts(batch, this.state.params);
    const t1 = Date.now();
    const r = await step.run({ ...feeds, tokens: padPrompts(prompts.tokens, step.P), prompt_index: promptIndex(prompts.promptOf) });
    if (!Number.isFinite(r.loss)) throw new AppError('RUNTIME_ERROR', `the loss became ${r.loss} at step ${this.state.step + 1}; lower the learning rate`);
    const t2 = Date.now();
    // the gradient of the prompts in play (padding prompts dropped)
    const gradTokens = f32([...prompts.tokens.dims], (r.gradTokens.data as Float32Array).slice(0, prompts.tokens.data.length));
    const grads = await this.strategy.paramGrads(prompts, gradTokens);
    return { loss: r.loss, grads, t: { data: t1 - t0, graph: t2 - t1, prompt: Date.now() - t2 } };
  }

  async run(outFile: string): Promise<TrainResult> {
    const task = this.opts.task;
    const nLat = this.cfg.size / 8;
    const B = this.cfg.batch;
    const step = new StepGraph(this.sd, { B, P: this.kind.promptsPerStep(B), N: this.N, h: nLat, w: nLat, latents: 'moments', frame: { h: this.cfg.size, w: this.cfg.size } });
    task.progress({ stage: 'building the training graph', done: 0, total: 1 });
    await step.ready();
    // the moments stay where the model's graphs run: on WebGPU in device memory from step to step
    const optimizer = new AdamOptimizer(this.state.adam, { providers: this.sd.providers, config: ADAM_DEFAULTS });
    this.optimizer = optimizer;
    try {
      return await this.loop(step, optimizer, outFile);
    } finally {
      // on completion, failure and cancellation alike: device memory is not garbage collected
      this.optimizer = null;
      await optimizer.dispose().catch((e: unknown) => this.log(`could not free the optimiser's sessions: ${(e as Error).message}`));
    }
  }

  /** The steps from the current one to the last, then the final checkpoint and the prompt file. */
  private async loop(step: StepGraph, optimizer: AdamOptimizer, outFile: string): Promise<TrainResult> {
    const task = this.opts.task;
    const losses: number[] = [];
    const start = Date.now();
    const startStep = this.state.step;
    while (this.state.step < this.cfg.steps) {
      if (task.token.cancelled) {
        await this.checkpoint();
        throw new CancelledError(`Cancelled at step ${this.state.step}; resume the run to continue`);
      }
      const sum: Record<string, Float32Array> = {};
      let loss = 0;
      const timing = { data: 0, graph: 0, prompt: 0, optimizer: 0 };
      for (let a = 0; a < this.cfg.accumulate; a++) {
        const r = await this.microStep(step, nextPairs(this.state.order, this.rng, this.data.train, this.cfg.batch));
        loss += r.loss / this.cfg.accumulate;
        timing.data += r.t.data;
        timing.graph += r.t.graph;
        timing.prompt += r.t.prompt;
        for (const [k, g] of Object.entries(r.grads)) {
          sum[k] ??= new Float32Array(g.data.length);
          const s = sum[k];
          const d = g.data as Float32Array;
          for (let i = 0; i < d.length; i++) s[i] += d[i] / this.cfg.accumulate;
        }
      }
      const t1 = Date.now();
      const lr = this.lrAt(this.state.step);
      const t = this.state.step + 1;
      for (const [k, g] of Object.entries(sum)) {
        const p = this.state.params[k];
        this.state.params[k] = await optimizer.step(k, p, f32(p.dims, g), t, this.strategy.learningRate(k, lr));
      }
      timing.optimizer = Date.now() - t1;
      this.state.step = t;
      this.state.rng = this.rng.state();
      losses.push(loss);
      const elapsed = (Date.now() - start) / 1000;
      const rate = (t - startStep) / Math.max(elapsed, 1e-9);
      const report: StepReport = { step: t, loss, lr, stepsPerSecond: rate, etaSeconds: (this.cfg.steps - t) / Math.max(rate, 1e-9), timings: timing };
      this.opts.hooks?.onStep?.(report);
      task.progress({ stage: 'training', done: t, total: this.cfg.steps, rate, etaSeconds: report.etaSeconds, detail: `loss ${loss.toFixed(4)} lr ${lr.toExponential(1)}` });
      if (this.cfg.valEvery > 0 && this.data.val.length > 0 && (t % this.cfg.valEvery === 0 || t === this.cfg.steps)) await this.validate();
      if (this.cfg.checkpointEvery > 0 && t % this.cfg.checkpointEvery === 0) await this.checkpoint();
    }
    await this.checkpoint();
    const final = this.state.best ?? this.state.params;
    const prompt = this.promptFrom(final);
    saveLearnedPrompt(outFile, prompt.meta, prompt.tensors);
    return {
      steps: this.state.step,
      finalLoss: losses.at(-1) ?? NaN,
      losses,
      bestPck: this.state.bestPck,
      bestStep: this.state.bestStep,
      prompt: { ...prompt, file: outFile },
      promptFile: outFile,
    };
  }

  /** The prompt file contents for a parameter set. */
  promptFrom(params: Record<string, HostTensor>): LearnedPrompt {
    const { tensors, categories } = this.strategy.promptFile(params);
    const meta: PromptMeta = {
      kind: this.strategy.kind,
      modelHash: this.sd.compiled.modelHash,
      imageSize: this.cfg.size,
      timestep: this.cfg.timestep,
      runId: this.opts.runId,
      dataset: this.data.dataset,
      categories,
      created: new Date().toISOString(),
    };
    return { file: '', meta, tensors };
  }

  private async validate(): Promise<void> {
    const prompt = this.promptFrom(this.state.params);
    const pipe = new Pipeline(this.sd, { kind: 'learned', prompt }, { size: this.cfg.size, timestep: this.cfg.valTimestep, ensemble: 1, seed: this.cfg.seed }, this.opts.cache, this.dino);
    const pairs = this.cfg.valPairs > 0 ? this.data.val.slice(0, this.cfg.valPairs) : this.data.val;
    const quiet = { token: this.opts.task.token, progress: () => {} };
    const r = await evaluate(pipe, pairs, { benchmark: this.data.benchmark, frame: 'resized', methods: ['kernelsoftmax'], alphas: [0.05, 0.1, 0.15] }, quiet);
    const pck = Object.fromEntries(Object.entries(r.pck.kernelsoftmax).map(([a, t]) => [a, t.image]));
    const at01 = pck['0.1'];
    const best = this.state.bestPck === null || at01 > this.state.bestPck;
    if (best) {
      this.state.bestPck = at01;
      this.state.best = { ...this.state.params };
      this.state.bestStep = this.state.step;
    }
    this.opts.hooks?.onValidation?.({ step: this.state.step, pck, best });
  }

  /**
   * Writes parameters, Adam moments, best prompt, step, RNG state and data order atomically; during
   * a run the moments are read back from the optimiser (from the device on WebGPU).
   */
  async checkpoint(): Promise<string> {
    const file = path.join(this.opts.runDir, CHECKPOINT_FILE);
    const adam = this.optimizer ? await this.optimizer.hostState() : this.state.adam;
    writeCheckpoint(file, { ...this.state, adam }, this.rng ? this.rng.state() : this.state.rng, this.checkpointOwner);
    this.opts.hooks?.onCheckpoint?.({ step: this.state.step, file });
    return file;
  }

  get stepCount(): number {
    return this.state.step;
  }

  parameters(): Record<string, HostTensor> {
    return this.state.params;
  }
}

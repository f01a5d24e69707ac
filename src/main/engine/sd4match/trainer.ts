/**
 * SD4Match prompt tuning: Single (one prompt), Class (one per category) and CPM (conditional
 * prompting module) runs, every tensor computation in ONNX Runtime. One step:
 *   data (batch of pairs, cached VAE moments, fresh noise) -> text encoder forward for the batch's
 *   prompts -> step graph (features of 2B images, loss, d loss / d hidden states) -> text encoder
 *   VJP -> (CPM VJP) -> Adam per parameter group (CPM's linear layers at a tenth of the rate).
 * Validation PCK@0.1 keeps the best prompt; checkpoints (parameters, Adam moments, step, RNG
 * state, data order) are written atomically and resume bit-exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError, CancelledError } from '../../shared/errors.js';
import { buildVjp } from '../autodiff/backprop.js';
import type { TensorCache } from '../cache/tensor-cache.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { TaskContext } from '../jobs/progress.js';
import type { HostTensor } from '../onnx/ir.js';
import { specialize } from '../onnx/specialize.js';
import { ADAM_DEFAULTS, adamStep, type AdamState, zerosLike } from './adam.js';
import { buildCpmGraph, CPM_DEFAULTS, CPM_PARAMS, cpmParamShapes } from './cpm.js';
import { type EvalPair, evaluate } from './evaluate.js';
import type { DinoFolder } from './model-folder.js';
import { Pipeline } from './pipeline.js';
import { type LearnedPrompt, type PromptMeta, idsTensor, saveLearnedPrompt, tokenizerOf } from './prompts.js';
import { Rng, type RngState } from './random.js';
import type { SdModel } from './sd-model.js';
import { noiseCoefficients } from './schedule.js';
import { promptIndex, StepGraph } from './step-graph-cache.js';
import { rows } from './token-rows.js';
import type { TrainConfig } from './train-config.js';

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

interface OrderState {
  epoch: number;
  cursor: number;
  perm: number[];
}

interface RunState {
  step: number;
  params: Record<string, HostTensor>;
  adam: Record<string, AdamState>;
  rng: { s: RngState; spare: number | null };
  order: OrderState;
  bestPck: number | null;
  best: Record<string, HostTensor> | null;
  bestStep: number | null;
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

const CHECKPOINT = 'checkpoint.safetensors';

/** Keypoint rows per pair in the step graph: the most any training pair has, rounded up to 4. */
export function keypointRows(pairs: EvalPair[]): number {
  return Math.max(4, Math.ceil(Math.max(...pairs.map((p) => p.srcKps.length)) / 4) * 4);
}

function f32(dims: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data };
}

/** Token embeddings [p, 77, D] padded to the step graph's P prompts (padding rows unused, their gradient zero). */
function padPrompts(tokens: HostTensor, P: number): HostTensor {
  const [p, L, D] = tokens.dims;
  if (p === P) return tokens;
  const data = new Float32Array(P * L * D);
  data.set(tokens.data as Float32Array);
  for (let i = p; i < P; i++) data.set((tokens.data as Float32Array).subarray((p - 1) * L * D, p * L * D), i * L * D);
  return f32([P, L, D], data);
}

export class Trainer {
  private readonly pipe: Pipeline;
  private state!: RunState;
  private rng!: Rng;
  private fixedTokens!: HostTensor;
  private readonly categories: string[];
  private readonly N: number;
  private sosEos: HostTensor | null = null;

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
    if (cfg.prompt === 'cpm' && !dino) throw new AppError('INVALID_ARGUMENT', 'CPM prompts need a DINOv2 model folder (--dino-dir)');
    if (cfg.steps < 1 || cfg.batch < 1 || cfg.accumulate < 1) throw new AppError('INVALID_ARGUMENT', 'steps, batch and accumulate must be at least 1');
    if (cfg.size % 8 !== 0) throw new AppError('INVALID_ARGUMENT', `image size must be a multiple of 8, got ${cfg.size}`);
    this.categories = [...new Set(data.train.map((p) => p.category))].sort();
    this.N = keypointRows(data.train);
    this.pipe = new Pipeline(sd, { kind: 'empty' }, { size: cfg.size, timestep: cfg.timestep, ensemble: 1, seed: cfg.seed }, opts.cache, dino);
  }

  private log(m: string): void {
    this.opts.hooks?.onLog?.(m);
  }

  /** Fixed rows: [BOS, learnable..., EOS, pad...] ids embedded; learnable rows are replaced per prompt. */
  private async initialState(): Promise<RunState> {
    const tok = tokenizerOf(this.sd);
    const rng = new Rng(this.cfg.seed);
    const vocab = this.sd.vocabSize();
    const D = this.sd.folder.hiddenSize;
    const randomIds = () => Array.from({ length: this.cfg.nLearnable }, () => rng.int(vocab));
    const idsFor = (learn: number[]) => {
      const ids = [tok.bos, ...learn, tok.eos];
      while (ids.length < 77) ids.push(tok.pad);
      return ids;
    };
    const params: Record<string, HostTensor> = {};
    this.fixedTokens = await this.sd.embedIds(idsTensor(idsFor(new Array(this.cfg.nLearnable).fill(tok.pad))));
    if (this.cfg.prompt === 'single') {
      params.learnable = rows(await this.sd.embedIds(idsTensor(idsFor(randomIds()))), 1, 1 + this.cfg.nLearnable);
    } else if (this.cfg.prompt === 'class') {
      for (const c of this.categories) params[`learnable.${c}`] = rows(await this.sd.embedIds(idsTensor(idsFor(randomIds()))), 1, 1 + this.cfg.nLearnable);
    } else {
      // the DINOv2 width, from the patches of a training image (exports do not always declare it)
      const width = (await this.pipe.dinoPatches(this.data.train[0].src)).dims[2];
      const shapes = cpmParamShapes({ B: 1, dino: width, hidden: D, ...CPM_DEFAULTS });
      for (const name of CPM_PARAMS) {
        const shape = shapes[name];
        const n = shape.reduce((a, b) => a * b, 1);
        if (name.startsWith('linear_')) {
          // PyTorch's nn.Linear default: U(-1/√fan_in, 1/√fan_in) for weight and bias
          const fanIn = name.startsWith('linear_C') ? shapes.linear_C_weight[1] : shapes.linear_N_weight[1];
          const b = 1 / Math.sqrt(fanIn);
          params[name] = f32(shape, rng.uniforms(n, -b, b));
        } else {
          params[name] = f32(shape, rng.uniforms(n, 0, 1));
        }
      }
    }
    if (this.cfg.prompt === 'cpm') this.sosEos = this.sosEosRows();
    const adam: Record<string, AdamState> = {};
    for (const [k, v] of Object.entries(params)) adam[k] = { m: zerosLike(v), v: zerosLike(v) };
    return { step: 0, params, adam, rng: rng.state(), order: { epoch: 0, cursor: 0, perm: rng.permutation(this.data.train.length) }, bestPck: null, best: null, bestStep: null };
  }

  private sosEosRows(): HostTensor {
    const D = this.sd.folder.hiddenSize;
    const data = new Float32Array(2 * D);
    data.set((this.fixedTokens.data as Float32Array).subarray(0, D), 0);
    data.set((this.fixedTokens.data as Float32Array).subarray((1 + this.cfg.nLearnable) * D, (2 + this.cfg.nLearnable) * D), D);
    return f32([1, 2, D], data);
  }

  /** Starts a new run or resumes from the run folder's checkpoint. */
  async prepare(resume: boolean): Promise<void> {
    fs.mkdirSync(this.opts.runDir, { recursive: true });
    const ck = path.join(this.opts.runDir, CHECKPOINT);
    this.state = await this.initialState();
    if (resume) {
      if (!fs.existsSync(ck)) throw new AppError('NOT_FOUND', `run ${this.opts.runId} has no checkpoint to resume from (${ck})`);
      this.state = this.loadCheckpoint(ck);
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

  private nextBatch(): EvalPair[] {
    const o = this.state.order;
    const out: EvalPair[] = [];
    while (out.length < this.cfg.batch) {
      if (o.cursor >= o.perm.length) {
        o.epoch++;
        o.cursor = 0;
        o.perm = this.rng.permutation(this.data.train.length);
      }
      out.push(this.data.train[o.perm[o.cursor++]]);
    }
    return out;
  }

  /** Token embeddings of each prompt in play: single [1], class [categories of the batch], cpm [B]. */
  private async tokens(batch: EvalPair[]): Promise<{ tokens: HostTensor; promptOf: number[]; cpmFeeds?: Record<string, HostTensor> }> {
    const D = this.sd.folder.hiddenSize;
    const withLearnable = (learn: HostTensor) => {
      const t = new Float32Array(this.fixedTokens.data as Float32Array);
      t.set(learn.data as Float32Array, D);
      return t;
    };
    if (this.cfg.prompt === 'single') {
      return { tokens: f32([1, 77, D], withLearnable(this.state.params.learnable)), promptOf: batch.map(() => 0) };
    }
    if (this.cfg.prompt === 'class') {
      const cats = [...new Set(batch.map((p) => p.category))];
      const data = new Float32Array(cats.length * 77 * D);
      cats.forEach((c, i) => data.set(withLearnable(this.state.params[`learnable.${c}`]), i * 77 * D));
      return { tokens: f32([cats.length, 77, D], data), promptOf: batch.map((p) => cats.indexOf(p.category)) };
    }
    const B = batch.length;
    const src = await Promise.all(batch.map((p) => this.pipe.dinoPatches(p.src)));
    const trg = await Promise.all(batch.map((p) => this.pipe.dinoPatches(p.trg)));
    const cat = (ts: HostTensor[]) => {
      const d = new Float32Array(ts.reduce((a, t) => a + t.data.length, 0));
      let o = 0;
      for (const t of ts) {
        d.set(t.data as Float32Array, o);
        o += t.data.length;
      }
      return f32([ts.length, ...ts[0].dims.slice(1)], d);
    };
    const feeds: Record<string, HostTensor> = { src_patches: cat(src), trg_patches: cat(trg), sos_eos_embeds: this.sosEos! };
    for (const k of CPM_PARAMS) feeds[k] = this.state.params[k];
    const dims = { B, dino: src[0].dims[2], hidden: D, ...CPM_DEFAULTS };
    const session = await this.sd.sessions.get(`cpm-fwd:${B}:${dims.dino}`, () => buildCpmGraph(dims));
    const tokens = (await session.run(feeds, ['token_embeds'])).token_embeds;
    return { tokens, promptOf: batch.map((_, i) => i), cpmFeeds: feeds };
  }

  /** Gradients of the CPM parameters for a cotangent on its token embeddings [B, 77, D]. */
  private async cpmGrads(feeds: Record<string, HostTensor>, cot: HostTensor): Promise<Record<string, HostTensor>> {
    const B = cot.dims[0];
    const dims = { B, dino: feeds.src_patches.dims[2], hidden: this.sd.folder.hiddenSize, ...CPM_DEFAULTS };
    let names: Record<string, string> = {};
    let cotName = '';
    const key = `cpm-vjp:${B}:${dims.dino}`;
    const session = await this.sd.sessions.get(key, () => {
      const g = buildCpmGraph(dims);
      g.graph.outputs = g.graph.outputs.filter((o) => o.name === 'token_embeds');
      const shapes = Object.fromEntries(g.graph.inputs.map((i) => [i.name, i.shape as number[]]));
      const v = buildVjp(specialize(g, shapes), { wrt: [...CPM_PARAMS] });
      names = v.gradOutputs;
      cotName = v.cotangentInput!;
      return v.model;
    });
    if (!cotName) {
      cotName = session.inputNames.find((n) => n.startsWith('grad_token_embeds'))!;
      names = Object.fromEntries(CPM_PARAMS.map((p) => [p, session.outputNames.find((n) => n === `grad_${p}` || n.startsWith(`grad_${p}_`))!]));
    }
    const out = await session.run({ ...feeds, [cotName]: cot });
    return Object.fromEntries(CPM_PARAMS.map((p) => [p, out[names[p]]]));
  }

  private async microStep(step: StepGraph, batch: EvalPair[]): Promise<{ loss: number; grads: Record<string, HostTensor>; t: { data: number; graph: number; prompt: number } }> {
    const t0 = Date.now();
    const B = batch.length;
    const n = 2 * B;
    const S = this.cfg.size;
    const images = [...batch.map((p) => p.src), ...batch.map((p) => p.trg)];
    const moments = await Promise.all(images.map((img) => this.pipe.moments(img)));
    const [, c2, h, w] = moments[0].dims;
    const c = c2 / 2;
    const cat = (ts: HostTensor[]) => {
      const d = new Float32Array(ts.length * ts[0].data.length);
      ts.forEach((t, i) => d.set(t.data as Float32Array, i * t.data.length));
      return f32([ts.length, ...ts[0].dims.slice(1)], d);
    };
    const eps = f32([n, c, h, w], this.rng.normals(n * c * h * w));
    const noise = f32([n, c, h, w], this.rng.normals(n * c * h * w));
    const srcKps = new Float32Array(B * this.N * 2).fill(-2);
    const trgKps = new Float32Array(B * this.N * 2).fill(-2);
    batch.forEach((p, b) => {
      p.srcKps.forEach(([x, y], i) => {
        srcKps[2 * (b * this.N + i)] = (x * S) / p.src.width;
        srcKps[2 * (b * this.N + i) + 1] = (y * S) / p.src.height;
      });
      p.trgKps.forEach(([x, y], i) => {
        trgKps[2 * (b * this.N + i)] = (x * S) / p.trg.width;
        trgKps[2 * (b * this.N + i) + 1] = (y * S) / p.trg.height;
      });
    });
    const plans = step.plans({ srcKps, trgKps, nPts: batch.map((p) => p.srcKps.length), N: this.N });
    const prompts = await this.tokens(batch);
    const t1 = Date.now();
    const { signal, noise: sigma } = noiseCoefficients(this.cfg.timestep, this.sd.acp);
    const ts: HostTensor =
      this.sd.folder.timestepRank === 0 ? { dtype: 'int64', dims: [], data: BigInt64Array.from([BigInt(this.cfg.timestep)]) } : { dtype: 'int64', dims: [n], data: new BigInt64Array(n).fill(BigInt(this.cfg.timestep)) };
    const r = await step.run({
      moments: cat(moments),
      eps,
      noise,
      noise_coefficients: f32([2], Float32Array.from([signal, sigma])),
      tokens: padPrompts(prompts.tokens, step.P),
      prompt_index: promptIndex(prompts.promptOf),
      timestep: ts,
      ...plans,
    });
    if (!Number.isFinite(r.loss)) throw new AppError('RUNTIME_ERROR', `the loss became ${r.loss} at step ${this.state.step + 1}; lower the learning rate`);
    const t2 = Date.now();
    const [, L, D] = prompts.tokens.dims;
    // the gradient of the prompts in play (padding rows dropped)
    const gradTokens = f32([prompts.tokens.dims[0], L, D], (r.gradTokens.data as Float32Array).slice(0, prompts.tokens.data.length));
    const grads: Record<string, HostTensor> = {};
    const nl = this.cfg.nLearnable;
    if (this.cfg.prompt === 'single') grads.learnable = rows(gradTokens, 1, 1 + nl);
    else if (this.cfg.prompt === 'class') {
      const cats = [...new Set(batch.map((p) => p.category))];
      cats.forEach((c, i) => {
        const one = f32([1, L, D], (gradTokens.data as Float32Array).slice(i * L * D, (i + 1) * L * D));
        grads[`learnable.${c}`] = rows(one, 1, 1 + nl);
      });
    } else Object.assign(grads, await this.cpmGrads(prompts.cpmFeeds!, gradTokens));
    return { loss: r.loss, grads, t: { data: t1 - t0, graph: t2 - t1, prompt: Date.now() - t2 } };
  }

  async run(outFile: string): Promise<TrainResult> {
    const task = this.opts.task;
    const nLat = this.cfg.size / 8;
    const step = new StepGraph(this.sd, { B: this.cfg.batch, P: this.cfg.prompt === 'single' ? 1 : this.cfg.batch, N: this.N, h: nLat, w: nLat, latents: 'moments', frame: { h: this.cfg.size, w: this.cfg.size } });
    task.progress({ stage: 'building the training graph', done: 0, total: 1 });
    await step.ready();
    const losses: number[] = [];
    const start = Date.now();
    const startStep = this.state.step;
    while (this.state.step < this.cfg.steps) {
      if (task.token.cancelled) {
        this.checkpoint();
        throw new CancelledError(`Cancelled at step ${this.state.step}; resume the run to continue`);
      }
      const sum: Record<string, Float32Array> = {};
      let loss = 0;
      const timing = { data: 0, graph: 0, prompt: 0, optimizer: 0 };
      for (let a = 0; a < this.cfg.accumulate; a++) {
        const r = await this.microStep(step, this.nextBatch());
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
        const groupLr = k.startsWith('linear_') ? lr * this.cfg.linearLrScale : lr;
        const r = await adamStep(this.sd.sessions, p, f32(p.dims, g), this.state.adam[k], t, groupLr, ADAM_DEFAULTS);
        this.state.params[k] = r.param;
        this.state.adam[k] = r.state;
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
      if (this.cfg.checkpointEvery > 0 && t % this.cfg.checkpointEvery === 0) this.checkpoint();
    }
    this.checkpoint();
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
    const D = this.sd.folder.hiddenSize;
    const meta: PromptMeta = {
      kind: this.cfg.prompt,
      modelHash: this.sd.compiled.modelHash,
      imageSize: this.cfg.size,
      timestep: this.cfg.timestep,
      runId: this.opts.runId,
      dataset: this.data.dataset,
      categories: this.cfg.prompt === 'class' ? this.categories : [],
      created: new Date().toISOString(),
    };
    const tensors: Record<string, HostTensor> = {};
    const full = (learn: HostTensor) => {
      const t = new Float32Array(this.fixedTokens.data as Float32Array);
      t.set(learn.data as Float32Array, D);
      return f32([1, 77, D], t);
    };
    if (this.cfg.prompt === 'single') tensors.token_embeds = full(params.learnable);
    else if (this.cfg.prompt === 'class') for (const c of this.categories) tensors[`token_embeds.${c}`] = full(params[`learnable.${c}`]);
    else {
      for (const k of CPM_PARAMS) tensors[k] = params[k];
      tensors.sos_eos_embeds = this.sosEos!;
    }
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

  /** Writes parameters, Adam moments, best prompt, step, RNG state and data order atomically. */
  checkpoint(): string {
    const tensors: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(this.state.params)) tensors[`param/${k}`] = v;
    for (const [k, v] of Object.entries(this.state.adam)) {
      tensors[`adam_m/${k}`] = v.m;
      tensors[`adam_v/${k}`] = v.v;
    }
    for (const [k, v] of Object.entries(this.state.best ?? {})) tensors[`best/${k}`] = v;
    const file = path.join(this.opts.runDir, CHECKPOINT);
    writeSafetensors(file, tensors, {
      format: 'sd4match-checkpoint/1',
      step: String(this.state.step),
      rng: JSON.stringify(this.rng ? this.rng.state() : this.state.rng),
      order: JSON.stringify(this.state.order),
      best_pck: JSON.stringify(this.state.bestPck),
      best_step: JSON.stringify(this.state.bestStep),
      config: JSON.stringify(this.cfg),
      model_hash: this.sd.compiled.modelHash,
    });
    this.opts.hooks?.onCheckpoint?.({ step: this.state.step, file });
    return file;
  }

  private loadCheckpoint(file: string): RunState {
    const st = readSafetensors(file);
    const md = st.metadata;
    if (md.format !== 'sd4match-checkpoint/1') throw new AppError('INVALID_ARGUMENT', `${file} is not a training checkpoint`);
    if (md.model_hash !== this.sd.compiled.modelHash) throw new AppError('INVALID_ARGUMENT', `${file} belongs to another model (hash ${md.model_hash?.slice(0, 12)})`);
    const saved = JSON.parse(md.config) as TrainConfig;
    for (const k of ['prompt', 'batch', 'size', 'seed', 'nLearnable'] as const) {
      if (saved[k] !== this.cfg[k]) throw new AppError('INVALID_ARGUMENT', `cannot resume: the run was started with ${k} = ${saved[k]}, now ${this.cfg[k]}`);
    }
    const pick = (prefix: string) => Object.fromEntries(Object.entries(st.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const params = pick('param/');
    const m = pick('adam_m/');
    const v = pick('adam_v/');
    const best = pick('best/');
    const adam: Record<string, AdamState> = {};
    for (const k of Object.keys(params)) adam[k] = { m: m[k], v: v[k] };
    return {
      step: Number(md.step),
      params,
      adam,
      rng: JSON.parse(md.rng),
      order: JSON.parse(md.order),
      bestPck: JSON.parse(md.best_pck),
      best: Object.keys(best).length ? best : null,
      bestStep: JSON.parse(md.best_step),
    };
  }

  get stepCount(): number {
    return this.state.step;
  }

  parameters(): Record<string, HostTensor> {
    return this.state.params;
  }
}


/**
 * A Stable Diffusion model ready for SD4Match: validated folder, compiled graphs, and the runs the
 * pipeline needs — VAE moments, UNet features for latents sampled and noised in the same graph
 * (with an ensemble average over K noise draws), and the text encoder split at its embeddings.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import type { TaskContext } from '../../jobs/progress.js';
import { ModelBuilder } from '../../onnx/builder.js';
import { allocTypedArray } from '../../onnx/dtypes.js';
import { defaultOpset, type HostTensor, type Model } from '../../onnx/ir.js';
import { loadModel } from '../../onnx/model-io.js';
import { plannedProvider, type ProviderChoice, type ProviderName, type Session } from '../../onnx/runtime.js';
import { providerChoice } from '../../onnx/providers.js';
import { createSession } from '../../onnx/runtime.js';
import { type AttentionRewriteOptions, attentionOptions, rewriteAttention } from '../../onnx/attention.js';
import type { DType } from '../../onnx/dtypes.js';
import { planMemory } from '../../onnx/memory-plan.js';
import { SessionCache } from '../../onnx/session-cache.js';
import { specialize } from '../../onnx/specialize.js';
import { convertToFloat16, resolvePrecision } from '../../onnx/fp16.js';
import { type Precision, type PrecisionChoice, precisionChoice } from '../../onnx/precision.js';
import { compileSd, type CompiledSd } from './compile.js';
import { inspectSdFolder, type SdFolder } from './model-folder.js';
import { alphasCumprod, noiseCoefficients } from '../training/schedule.js';
import { CONTEXT_LENGTH } from './tokenizer.js';

export interface SdModelOptions {
  cacheDir: string;
  /** `auto`, a provider by name, or providers to try in order (default: this process's choice). */
  providers?: ProviderName[] | ProviderChoice;
  /** Precision of the feature graph: `fp32`, `fp16` or `auto` (default: this process's choice, see precision.ts). */
  precision?: PrecisionChoice;
  task?: TaskContext;
}

export interface FeatureArgs {
  /** VAE latent parameters [B, 2c, h, w] (mean then log-variance). */
  moments: HostTensor;
  /** VAE sampling noise [B, c, h, w]. */
  eps: HostTensor;
  /** Diffusion noise [B, K, c, h, w]. */
  noise: HostTensor;
  /** Prompt hidden states [B, 77, D]. */
  encoderHiddenStates: HostTensor;
  timestep: number;
  /** Draws per UNet run (a divisor of K); default `ensembleChunk`. */
  chunk?: number;
}

/** Parts whose weights take at least this much are held by one session at a time. */
const SHARED_PART_BYTES = 256 * 2 ** 20;

/** Bytes of an ONNX file and the data files its folder holds for it. */
function fileBytesOf(onnx: string): number {
  const dir = path.dirname(onnx);
  const base = path.basename(onnx);
  return fs
    .readdirSync(dir)
    .filter((f) => f === base || f.startsWith(`${base}.`))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/**
 * Bytes of activations a feature graph may plan for one run before the ensemble is split into
 * chunks of draws (SD4MATCH_ACTIVATION_BUDGET_GB overrides; default 2 GiB).
 */
export function activationBudget(): number {
  const gb = Number(process.env.SD4MATCH_ACTIVATION_BUDGET_GB);
  return (Number.isFinite(gb) && gb > 0 ? gb : 2) * 2 ** 30;
}

/**
 * The feature graph for a batch of B images and K noise draws: z = (μ + exp(½·clamp(logσ², -30, 20))·ε)·s,
 * z_t = √ᾱ_t·z + √(1-ᾱ_t)·n_k, F = mean_k UNet_up_blocks.1(z_t, t, prompt). Outputs `features`
 * [B, C, h', w'] (and `noisy_latents` [B·K, c, h, w] for checks).
 */
export function buildFeatureGraph(
  unetTap: Model,
  args: { B: number; K: number; c: number; h: number; w: number; seq: number; hidden: number; scalingFactor: number; timestepShape: number[]; timestepDtype: string },
  attention: AttentionRewriteOptions = attentionOptions(),
): { model: Model; info: Map<string, { dtype: DType; dims: number[] }> } {
  const { B, K, c, h, w } = args;
  const spec = specialize(unetTap, {
    sample: [B * K, c, h, w],
    timestep: args.timestepShape.map((d) => (d === -1 ? B * K : d)),
    encoder_hidden_states: [B * K, args.seq, args.hidden],
  });
  const m = new ModelBuilder('features', defaultOpset(unetTap));
  const moments = m.input('moments', 'float32', [B, 2 * c, h, w]);
  const eps = m.input('eps', 'float32', [B, c, h, w]);
  const noise = m.input('noise', 'float32', [B, K, c, h, w]);
  const ehs = m.input('encoder_hidden_states', 'float32', [B, args.seq, args.hidden]);
  const timestep = m.input(
    'timestep',
    args.timestepDtype as 'int64',
    args.timestepShape.map((d) => (d === -1 ? B * K : d)),
  );
  const coef = m.input('noise_coefficients', 'float32', [2]);
  const mean = m.op1('Slice', [moments, m.ints([0]), m.ints([c]), m.ints([1])]);
  const logvar = m.op1('Slice', [moments, m.ints([c]), m.ints([2 * c]), m.ints([1])]);
  const clamped = m.op1('Clip', [logvar, m.scalar(-30, logvar), m.scalar(20, logvar)]);
  const std = m.op1('Exp', [m.mul(clamped, m.scalar(0.5, clamped))]);
  const z = m.mul(m.add(mean, m.mul(std, eps)), m.scalar(args.scalingFactor, mean));
  const signal = m.op1('Slice', [coef, m.ints([0]), m.ints([1]), m.ints([0])]);
  const sigma = m.op1('Slice', [coef, m.ints([1]), m.ints([2]), m.ints([0])]);
  const zk = m.op1('Unsqueeze', [z, m.ints([1])]); // [B, 1, c, h, w]
  const zt = m.reshape(m.add(m.mul(zk, signal), m.mul(noise, sigma)), [B * K, c, h, w]);
  const ehsK = m.reshape(m.expand(m.op1('Unsqueeze', [ehs, m.ints([1])]), [B, K, args.seq, args.hidden]), [B * K, args.seq, args.hidden]);
  const out = m.inline(spec.model, { sample: zt, timestep, encoder_hidden_states: ehsK }, spec.info);
  const f = out.features;
  const fd = m.shape(f);
  const features = K === 1 ? f : m.reduceMean(m.reshape(f, [B, K, ...fd.slice(1)]), [1], false);
  m.output('features', features);
  m.output('noisy_latents', zt);
  return { model: rewriteAttention(m.build(), m.b.info, attention).model, info: m.b.info };
}

export class SdModel {
  readonly sessions = new SessionCache(6);
  readonly acp: Float32Array;
  private unetTap: Model | null = null;
  private embedModel: Model | null = null;
  /** Feature graphs built per shape, with their memory plans. */
  private readonly featureGraphs = new Map<string, { model: Model; activationBytes: number; weightBytes: number }>();
  private readonly vaePlans = new Map<number, { activationBytes: number }>();
  private partBytes: Record<'unet' | 'text', number> | null = null;
  private resolvedPrecision: Promise<Precision> | null = null;
  private knownProvider: ProviderName | null = null;

  private constructor(
    readonly folder: SdFolder,
    readonly compiled: CompiledSd,
    readonly providers: ProviderName[] | ProviderChoice,
    readonly precision: PrecisionChoice = 'fp32',
  ) {
    this.acp = alphasCumprod(folder.scheduler);
  }

  static open(dir: string, opts: SdModelOptions): SdModel {
    const folder = inspectSdFolder(dir);
    const compiled = compileSd(folder, opts.cacheDir, opts.task);
    return new SdModel(folder, compiled, opts.providers ?? providerChoice(), opts.precision ?? precisionChoice());
  }

  get key(): string {
    return this.compiled.key;
  }

  /** Latent grid for an image of S x S pixels (the VAE downsamples by 8). */
  latentSize(size: number): number {
    if (size % 8 !== 0) throw new AppError('INVALID_ARGUMENT', `image size must be a multiple of 8, got ${size}`);
    return size / 8;
  }

  /** VAE latent parameters [B, 2c, S/8, S/8] for pixels [B, 3, S, S] in [-1, 1]. */
  async vaeMoments(pixels: HostTensor): Promise<HostTensor> {
    return (await (await this.vaeSession()).run({ sample: pixels }, ['latent_parameters'])).latent_parameters;
  }

  private vaeSession(): Promise<Session> {
    // the VAE's weights are small: the NCHWc layout (level 'all') may copy them
    return this.sessions.getOrCreate('vae', () => createSession(this.folder.vaeEncoder, { providers: this.providers, graphOptimization: 'all' }), ['vae']);
  }

  /**
   * The model parts a session holds, for the session cache's one-session-per-part rule (see
   * session-cache.ts). Only parts large enough for the rule to matter are named: a small model's
   * sessions live side by side rather than being rebuilt at every switch (validation, Compare).
   */
  parts(...parts: ('unet' | 'text')[]): string[] {
    this.partBytes ??= {
      unet: fileBytesOf(this.compiled.unetFeatures),
      text: fileBytesOf(this.compiled.textFromEmbeds),
    };
    return parts.filter((p) => this.partBytes![p] >= SHARED_PART_BYTES);
  }

  /** The VAE encoder's memory plan for one S x S image. */
  vaePlan(size: number): { activationBytes: number } {
    let p = this.vaePlans.get(size);
    if (!p) {
      const spec = specialize(loadModel(this.folder.vaeEncoder), { sample: [1, 3, size, size] });
      p = { activationBytes: planMemory(spec.model.graph, (t) => spec.info.get(t)).peakBytes };
      this.vaePlans.set(size, p);
    }
    return p;
  }

  /**
   * The provider this model's sessions are planned to run on, known without opening one (the
   * machine's probe and the choice): cached tensors are keyed by it, so that features computed on
   * one provider are never read as another's. Refuses a provider that cannot run here.
   */
  async plannedProvider(): Promise<ProviderName> {
    this.knownProvider = await plannedProvider(this.providers);
    return this.knownProvider;
  }

  /**
   * The precision the feature graph runs in on the planned provider (fp16.ts: `auto` is float16
   * only on a GPU provider whose float16 kernels pass the probe; `fp16` where they do not is
   * refused). Cached features are keyed by it as by the provider.
   */
  featurePrecision(): Promise<Precision> {
    this.resolvedPrecision ??= this.plannedProvider().then(async (p) => (await resolvePrecision(this.precision, p)).precision);
    return this.resolvedPrecision;
  }

  /** The provider the feature graph runs on (after the first run). */
  async provider(): Promise<string> {
    await this.plannedProvider();
    return (await this.vaeSession()).provider;
  }

  /**
   * The planned provider once plannedProvider() (or provider()) has run, for graphs built
   * synchronously (memory plans, the step graph): their attention form depends on it.
   */
  get providerHint(): ProviderName | undefined {
    return this.knownProvider ?? undefined;
  }

  private timestepInfo(BK: number): { shape: number[]; tensor: (t: number) => HostTensor } {
    const rank = this.folder.timestepRank;
    const shape = rank === 0 ? [] : [BK === 1 ? 1 : -1];
    const dtype = this.folder.timestepDtype;
    return {
      shape,
      tensor: (t: number) => {
        const n = rank === 0 ? 1 : BK;
        const data = allocTypedArray(dtype, n);
        if (data instanceof BigInt64Array) data.fill(BigInt(t));
        else (data as Float32Array).fill(t);
        return { dtype, dims: rank === 0 ? [] : [n], data };
      },
    };
  }

  /**
   * The feature graph for B images and k draws (memory-efficient attention), with its memory
   * plan; built once per shape.
   */
  featureGraph(B: number, k: number, h: number, w: number): { model: Model; activationBytes: number; weightBytes: number } {
    const c = this.folder.latentChannels;
    // the attention form depends on the provider (attention.ts): known once plannedProvider ran
    const provider = this.providerHint;
    const key = `${B}:${k}:${h}:${w}:${provider ?? '?'}`;
    let g = this.featureGraphs.get(key);
    if (!g) {
      this.unetTap ??= loadModel(this.compiled.unetFeatures);
      const ts = this.timestepInfo(B * k);
      const built = buildFeatureGraph(
        this.unetTap,
        {
          B,
          K: k,
          c,
          h,
          w,
          seq: CONTEXT_LENGTH,
          hidden: this.folder.hiddenSize,
          scalingFactor: this.folder.scalingFactor,
          timestepShape: ts.shape,
          timestepDtype: this.folder.timestepDtype,
        },
        attentionOptions(provider),
      );
      const plan = planMemory(built.model.graph, (t) => built.info.get(t));
      g = { model: built.model, activationBytes: plan.peakBytes, weightBytes: plan.weightBytes };
      this.featureGraphs.set(key, g);
    }
    return g;
  }

  /**
   * Draws per UNet run for an ensemble of K (a divisor of K): as many as keep the graph's planned
   * activations within the activation budget, at least one.
   */
  ensembleChunk(B: number, K: number, h: number, w: number): number {
    const one = this.featureGraph(B, 1, h, w).activationBytes;
    const budget = activationBudget();
    let k = 1;
    for (let d = 1; d <= K; d++) if (K % d === 0 && d * one <= budget) k = d;
    return k;
  }

  /**
   * UNet features for B images: the mean over K noise draws, run `ensembleChunk` draws at a time
   * (the same mean as one run over all K; only the summation order differs).
   */
  async features(a: FeatureArgs): Promise<{ features: HostTensor; noisyLatents: HostTensor }> {
    const [B, c2, h, w] = a.moments.dims;
    const K = a.noise.dims[1];
    const c = c2 / 2;
    const hidden = a.encoderHiddenStates.dims[2];
    if (hidden !== this.folder.hiddenSize) {
      throw new AppError('INVALID_ARGUMENT', `prompt hidden states are ${hidden} wide; this model's UNet takes ${this.folder.hiddenSize}`);
    }
    if (a.encoderHiddenStates.dims[1] !== CONTEXT_LENGTH) throw new AppError('INVALID_ARGUMENT', `prompt hidden states have ${a.encoderHiddenStates.dims[1]} rows; the UNet takes ${CONTEXT_LENGTH}`);
    const k = a.chunk ?? this.ensembleChunk(B, K, h, w);
    if (K % k !== 0) throw new AppError('INVALID_ARGUMENT', `an ensemble of ${K} draws cannot run ${k} at a time`);
    const ts = this.timestepInfo(B * k);
    const precision = await this.featurePrecision();
    const build = () => (precision === 'fp16' ? convertToFloat16(this.featureGraph(B, k, h, w).model).model : this.featureGraph(B, k, h, w).model);
    const session = await this.sessions.get(`features:${precision}:${B}:${k}:${c}:${h}:${w}`, build, { providers: this.providers }, this.parts('unet'));
    const { signal, noise } = noiseCoefficients(a.timestep, this.acp);
    const plane = c * h * w;
    const noiseData = a.noise.data as Float32Array;
    let sum: Float64Array | null = null;
    let featDims: number[] = [];
    const noisy = new Float32Array(B * K * plane);
    for (let j = 0; j < K / k; j++) {
      const chunk = new Float32Array(B * k * plane);
      for (let b = 0; b < B; b++) chunk.set(noiseData.subarray((b * K + j * k) * plane, (b * K + j * k + k) * plane), b * k * plane);
      const out = await session.run({
        moments: a.moments,
        eps: a.eps,
        noise: { dtype: 'float32', dims: [B, k, c, h, w], data: chunk },
        encoder_hidden_states: a.encoderHiddenStates,
        timestep: ts.tensor(a.timestep),
        noise_coefficients: { dtype: 'float32', dims: [2], data: Float32Array.from([signal, noise]) },
      });
      if (K === k) return { features: out.features, noisyLatents: out.noisy_latents };
      const f = out.features.data as Float32Array;
      featDims = out.features.dims;
      sum ??= new Float64Array(f.length);
      for (let i = 0; i < f.length; i++) sum[i] += f[i] * k;
      const nl = out.noisy_latents.data as Float32Array;
      for (let b = 0; b < B; b++) noisy.set(nl.subarray(b * k * plane, (b + 1) * k * plane), (b * K + j * k) * plane);
    }
    return { features: { dtype: 'float32', dims: featDims, data: Float32Array.from(sum!, (v) => v / K) }, noisyLatents: { dtype: 'float32', dims: [B * K, c, h, w], data: noisy } };
  }

  /** Rows of the token-embedding table (the tokenizer's vocabulary size). */
  vocabSize(): number {
    this.embedModel ??= loadModel(this.compiled.embed);
    const hidden = this.folder.hiddenSize;
    let best = 0;
    for (const t of this.embedModel.graph.initializers.values()) {
      if (t.dims.length === 2 && t.dims[1] === hidden && t.dims[0] > best && t.dims[0] !== CONTEXT_LENGTH) best = t.dims[0];
    }
    if (!best) throw new AppError('INVALID_ARGUMENT', `${this.folder.textEncoder}: cannot find the token-embedding table`);
    return best;
  }

  /** Embedding-layer output (token + position) for ids [B, 77]. */
  async embedIds(ids: HostTensor): Promise<HostTensor> {
    const session = await this.sessions.getOrCreate('embed', () => createSession(this.compiled.embed, { providers: this.providers }), ['embed']);
    return (await session.run({ input_ids: this.idsFor(ids) }, ['embeds'])).embeds;
  }

  /** The text encoder on embeddings in place of its embedding output: last_hidden_state [B, 77, D]. */
  async encodeEmbeds(embeds: HostTensor): Promise<HostTensor> {
    const session = await this.sessions.getOrCreate('text', () => createSession(this.compiled.textFromEmbeds, { providers: this.providers }), this.parts('text'));
    return (await session.run({ inputs_embeds: embeds }, ['last_hidden_state'])).last_hidden_state;
  }

  /** Prompt hidden states for token ids [B, 77]. */
  async encodeIds(ids: HostTensor): Promise<HostTensor> {
    return this.encodeEmbeds(await this.embedIds(ids));
  }

  private idsFor(ids: HostTensor): HostTensor {
    if (this.folder.idsDtype === 'int64' || ids.dtype === 'int32') return ids;
    return { dtype: 'int32', dims: ids.dims, data: Int32Array.from(ids.data as BigInt64Array, Number) };
  }

  async dispose(): Promise<void> {
    await this.sessions.clear();
  }
}

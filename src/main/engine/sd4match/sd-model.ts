/**
 * A Stable Diffusion model ready for SD4Match: validated folder, compiled graphs, and the runs the
 * pipeline needs — VAE moments, UNet features for latents sampled and noised in the same graph
 * (with an ensemble average over K noise draws), and the text encoder split at its embeddings.
 */
import { AppError } from '../../api/errors.js';
import type { TaskContext } from '../jobs/progress.js';
import { ModelBuilder } from '../onnx/builder.js';
import { allocTypedArray } from '../onnx/dtypes.js';
import { defaultOpset, type HostTensor, type Model } from '../onnx/ir.js';
import { loadModel } from '../onnx/model-io.js';
import type { ProviderName, Session } from '../onnx/runtime.js';
import { createSession } from '../onnx/runtime.js';
import { SessionCache } from '../onnx/session-cache.js';
import { specialize } from '../onnx/specialize.js';
import { compileSd, type CompiledSd } from './compile.js';
import { inspectSdFolder, type SdFolder } from './model-folder.js';
import { alphasCumprod, noiseCoefficients } from './schedule.js';

const CONTEXT = 77;

export interface SdModelOptions {
  cacheDir: string;
  providers?: ProviderName[] | 'auto';
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
}

/**
 * The feature graph for a batch of B images and K noise draws: z = (μ + exp(½·clamp(logσ², -30, 20))·ε)·s,
 * z_t = √ᾱ_t·z + √(1-ᾱ_t)·n_k, F = mean_k UNet_up_blocks.1(z_t, t, prompt). Outputs `features`
 * [B, C, h', w'] (and `noisy_latents` [B·K, c, h, w] for checks).
 */
export function buildFeatureGraph(unetTap: Model, args: { B: number; K: number; c: number; h: number; w: number; seq: number; hidden: number; scalingFactor: number; timestepShape: number[]; timestepDtype: string }): Model {
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
  const timestep = m.input('timestep', args.timestepDtype as 'int64', args.timestepShape.map((d) => (d === -1 ? B * K : d)));
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
  return m.build();
}

export class SdModel {
  readonly sessions = new SessionCache(6);
  readonly acp: Float32Array;
  private unetTap: Model | null = null;
  private embedModel: Model | null = null;
  private vae: Promise<Session> | null = null;

  private constructor(
    readonly folder: SdFolder,
    readonly compiled: CompiledSd,
    private readonly providers: ProviderName[] | 'auto',
  ) {
    this.acp = alphasCumprod(folder.scheduler);
  }

  static open(dir: string, opts: SdModelOptions): SdModel {
    const folder = inspectSdFolder(dir);
    const compiled = compileSd(folder, opts.cacheDir, opts.task);
    return new SdModel(folder, compiled, opts.providers ?? 'auto');
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
    this.vae ??= createSession(this.folder.vaeEncoder, { providers: this.providers });
    const s = await this.vae;
    return (await s.run({ sample: pixels }, ['latent_parameters'])).latent_parameters;
  }

  /** The provider the feature graph runs on (after the first run). */
  async provider(): Promise<string> {
    this.vae ??= createSession(this.folder.vaeEncoder, { providers: this.providers });
    return (await this.vae).provider;
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

  /** UNet features (ensemble mean over K draws) for B images. */
  async features(a: FeatureArgs): Promise<{ features: HostTensor; noisyLatents: HostTensor }> {
    const [B, c2, h, w] = a.moments.dims;
    const K = a.noise.dims[1];
    const c = c2 / 2;
    const seq = a.encoderHiddenStates.dims[1];
    const hidden = a.encoderHiddenStates.dims[2];
    if (hidden !== this.folder.hiddenSize) {
      throw new AppError('INVALID_ARGUMENT', `prompt hidden states are ${hidden} wide; this model's UNet takes ${this.folder.hiddenSize}`);
    }
    const ts = this.timestepInfo(B * K);
    const key = `features:${B}:${K}:${c}:${h}:${w}:${seq}`;
    const session = await this.sessions.get(key, () => {
      this.unetTap ??= loadModel(this.compiled.unetFeatures);
      return buildFeatureGraph(this.unetTap, {
        B,
        K,
        c,
        h,
        w,
        seq,
        hidden,
        scalingFactor: this.folder.scalingFactor,
        timestepShape: ts.shape,
        timestepDtype: this.folder.timestepDtype,
      });
    }, { providers: this.providers });
    const { signal, noise } = noiseCoefficients(a.timestep, this.acp);
    const out = await session.run({
      moments: a.moments,
      eps: a.eps,
      noise: a.noise,
      encoder_hidden_states: a.encoderHiddenStates,
      timestep: ts.tensor(a.timestep),
      noise_coefficients: { dtype: 'float32', dims: [2], data: Float32Array.from([signal, noise]) },
    });
    return { features: out.features, noisyLatents: out.noisy_latents };
  }

  /** Rows of the token-embedding table (the tokenizer's vocabulary size). */
  vocabSize(): number {
    this.embedModel ??= loadModel(this.compiled.embed);
    const hidden = this.folder.hiddenSize;
    let best = 0;
    for (const t of this.embedModel.graph.initializers.values()) {
      if (t.dims.length === 2 && t.dims[1] === hidden && t.dims[0] > best && t.dims[0] !== CONTEXT) best = t.dims[0];
    }
    if (!best) throw new AppError('INVALID_ARGUMENT', `${this.folder.textEncoder}: cannot find the token-embedding table`);
    return best;
  }

  /** Embedding-layer output (token + position) for ids [B, 77]. */
  async embedIds(ids: HostTensor): Promise<HostTensor> {
    const session = await this.sessions.getOrCreate('embed', () => createSession(this.compiled.embed, { providers: this.providers }));
    return (await session.run({ input_ids: this.idsFor(ids) }, ['embeds'])).embeds;
  }

  /** The text encoder on embeddings in place of its embedding output: last_hidden_state [B, 77, D]. */
  async encodeEmbeds(embeds: HostTensor): Promise<HostTensor> {
    const session = await this.sessions.getOrCreate('text', () => createSession(this.compiled.textFromEmbeds, { providers: this.providers }));
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
    if (this.vae) await (await this.vae).dispose();
  }
}

/**
 * Text-to-image sampling as diffusers' StableDiffusionPipeline runs it with a DDIM scheduler:
 * the full UNet on [uncond, cond] as one batch of 2, classifier-free guidance
 * ε = ε_u + g (ε_c - ε_u), a DDIM step per timestep, then the folder's `vae_decoder` on
 * latents / scaling_factor. Progress and cancellation between steps.
 *
 * Both graphs run as the feature graph does (sd-model.ts): specialised to the run's shapes, with
 * the attention cores whose probabilities would be large replaced by a memory-efficient form
 * (onnx/attention.ts; SD 2-1 at 768 px holds 2 x 5 x 9216² probabilities per self-attention
 * layer otherwise, 3.4 GB), so their peak is planned before they run and the UNet's GEMMs run at
 * the machine's rate instead of waiting on memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { AppError } from '../../../shared/errors.js';
import type { TaskContext } from '../../jobs/progress.js';
import type { DType } from '../../onnx/dtypes.js';
import { attentionOptions, type AttentionRewriteOptions, rewriteAttention } from '../../onnx/attention.js';
import type { HostTensor, Model } from '../../onnx/ir.js';
import { planMemory } from '../../onnx/memory-plan.js';
import { loadModel } from '../../onnx/model-io.js';
import { plannedProvider, type ProviderChoice, type ProviderName, type Session } from '../../onnx/runtime.js';
import { SessionCache } from '../../onnx/session-cache.js';
import { specialize } from '../../onnx/specialize.js';
import { DdimSampler, readDdimConfig } from './ddim.js';
import type { SdFolder } from '../model/model-folder.js';
import { CONTEXT_LENGTH } from '../model/tokenizer.js';

/** A Stable Diffusion folder's `vae_decoder/model.onnx`; a folder without one is named with what to do. */
export function vaeDecoderOf(dir: string): string {
  const f = path.join(dir, 'vae_decoder', 'model.onnx');
  if (!fs.existsSync(f)) throw new AppError('INVALID_ARGUMENT', `${dir} has no vae_decoder/model.onnx: generating images needs the VAE decoder (optimum-cli export onnx writes it)`);
  return f;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Pixels per latent cell of a Stable Diffusion folder: 2^(VAE levels - 1) from the VAE's config (8 for every SD release). */
export function vaeScaleFactor(dir: string): number {
  for (const part of ['vae_decoder', 'vae_encoder']) {
    const blocks = readJson(path.join(dir, part, 'config.json'))?.block_out_channels;
    if (Array.isArray(blocks) && blocks.length > 0) return 2 ** (blocks.length - 1);
  }
  return 8;
}

/** The image side a Stable Diffusion folder's model was trained at (UNet `sample_size` x the VAE factor; 768 for SD 2-1). */
export function defaultImageSize(dir: string): number {
  const sample = Number(readJson(path.join(dir, 'unet', 'config.json'))?.sample_size);
  return Number.isInteger(sample) && sample > 0 ? sample * vaeScaleFactor(dir) : 512;
}

export interface GenerateInput {
  /** [1, c, h, w] initial noise (init_noise_sigma is 1 for DDIM). */
  latents: HostTensor;
  cond: HostTensor;
  uncond: HostTensor;
  steps: number;
  guidance: number;
}

export interface GenerateOutput {
  /** The latents after each step. */
  perStep: HostTensor[];
  /** [1, 3, 8h, 8w] in about [-1, 1]. */
  image: HostTensor;
  timesteps: number[];
}

/** A graph specialised to one run's shapes, with its memory plan. */
interface PlannedGraph {
  model: Model;
  activationBytes: number;
  weightBytes: number;
}

export interface GeneratorOptions {
  providers?: ProviderName[] | ProviderChoice;
  /** Overrides of the attention rewrite (default: attentionOptions(), cores of 64 MB of probabilities and more). */
  attention?: Partial<AttentionRewriteOptions>;
}

export class Generator {
  /** The UNet and the decoder take turns: their sessions hold the same 'generate' part. */
  private readonly sessions = new SessionCache(1);
  private readonly graphs = new Map<string, PlannedGraph>();
  private lastProvider: string | null = null;
  private knownProvider: ProviderName | undefined;

  constructor(
    readonly folder: SdFolder,
    readonly options: GeneratorOptions = {},
  ) {}

  private timestep(t: number): { shape: number[]; tensor: HostTensor } {
    const { timestepRank: rank, timestepDtype: dtype } = this.folder;
    // one timestep for the batch: the UNet broadcasts it (diffusers expands it to the batch)
    const dims = rank === 0 ? [] : [1];
    if (dtype === 'int64') return { shape: dims, tensor: { dtype, dims, data: BigInt64Array.from([BigInt(t)]) } };
    if (dtype === 'int32') return { shape: dims, tensor: { dtype, dims, data: Int32Array.from([t]) } };
    if (dtype === 'float32') return { shape: dims, tensor: { dtype, dims, data: Float32Array.from([t]) } };
    throw new AppError('ONNX_UNSUPPORTED', `${this.folder.unet}: a ${dtype} timestep input is not supported for generation`);
  }

  private planned(key: string, build: () => { model: Model; info: Map<string, { dtype: DType; dims: number[] }> }): PlannedGraph {
    // the attention form depends on the provider (attention.ts): known once a session is planned
    const provider = this.knownProvider;
    key = `${key}:${provider ?? '?'}`;
    let g = this.graphs.get(key);
    if (!g) {
      const spec = build();
      const rewritten = rewriteAttention(spec.model, spec.info, { ...attentionOptions(provider), ...this.options.attention }).model;
      const plan = planMemory(rewritten.graph, (t) => spec.info.get(t));
      g = { model: rewritten, activationBytes: plan.peakBytes, weightBytes: plan.weightBytes };
      this.graphs.set(key, g);
    }
    return g;
  }

  /** The full UNet on a batch of 2 latents [2, c, h, w] (uncond, cond), specialised, memory-efficient attention. */
  unetGraph(h: number, w: number): PlannedGraph {
    return this.planned(`unet:${h}:${w}`, () =>
      specialize(loadModel(this.folder.unet), {
        sample: [2, this.folder.latentChannels, h, w],
        timestep: this.timestep(0).shape,
        encoder_hidden_states: [2, CONTEXT_LENGTH, this.folder.hiddenSize],
      }),
    );
  }

  /** The VAE decoder on one latent [1, c, h, w]. */
  decoderGraph(h: number, w: number): PlannedGraph {
    return this.planned(`decoder:${h}:${w}`, () => specialize(loadModel(vaeDecoderOf(this.folder.dir)), { latent_sample: [1, this.folder.latentChannels, h, w] }));
  }

  /**
   * Resolves the provider the sessions will run on (the attention form of the graphs depends on
   * it): graphs built before (a memory estimate) assume any provider's rule.
   */
  async plannedProvider(): Promise<ProviderName> {
    this.knownProvider ??= await plannedProvider(this.options.providers);
    return this.knownProvider;
  }

  private async session(kind: 'unet' | 'decoder', h: number, w: number): Promise<Session> {
    await this.plannedProvider();
    const build = () => (kind === 'unet' ? this.unetGraph(h, w) : this.decoderGraph(h, w)).model;
    // The UNet runs once per step with the same shapes: its activations stay in ONNX Runtime's
    // arena between steps instead of going back to the system and faulting in again (SD 2-1 at
    // 768 px: 30 s per step instead of 42 s, a quarter of it in the kernel, at the same peak).
    // The decoder runs once per image: its activations go back. Its weights are small, so ONNX
    // Runtime's NCHWc convolutions may copy them. The two take turns (one 'generate' part): the
    // UNet's weights and arena are let go while an image decodes, and come back for the next
    // image (a session in under a second; its first step about half a step slower).
    const options = kind === 'decoder' ? { providers: this.options.providers, graphOptimization: 'all' as const } : { providers: this.options.providers, memArena: true };
    return this.sessions.get(`${kind}:${h}:${w}`, build, options, ['generate']).then((s) => {
      this.lastProvider = s.provider;
      return s;
    });
  }

  /** The provider the last session got (null before one is created). */
  get provider(): string | null {
    return this.lastProvider;
  }

  async generate(a: GenerateInput, task?: TaskContext): Promise<GenerateOutput> {
    if (a.guidance < 0 || !Number.isFinite(a.guidance)) throw new AppError('INVALID_ARGUMENT', `guidance scale must be a number >= 0, got ${a.guidance}`);
    const sampler = new DdimSampler(readDdimConfig(path.join(this.folder.dir, 'scheduler', 'scheduler_config.json')), a.steps);
    vaeDecoderOf(this.folder.dir);
    const [, c, h, w] = a.latents.dims;
    if (c !== this.folder.latentChannels) throw new AppError('INVALID_ARGUMENT', `initial latents have ${c} channels; this model's UNet takes ${this.folder.latentChannels}`);
    const n = c * h * w;
    const [, L, D] = a.cond.dims;
    for (const [name, t] of [
      ['cond', a.cond],
      ['uncond', a.uncond],
    ] as const) {
      if (t.dims.length !== 3 || t.dims[0] !== 1 || t.dims[1] !== CONTEXT_LENGTH || t.dims[2] !== this.folder.hiddenSize) {
        throw new AppError('INVALID_ARGUMENT', `${name} hidden states are [${t.dims.join(', ')}]; this model's UNet takes [1, ${CONTEXT_LENGTH}, ${this.folder.hiddenSize}]`);
      }
    }
    const unet = await this.session('unet', h, w);
    const ehs = new Float32Array(2 * L * D);
    ehs.set(a.uncond.data as Float32Array, 0);
    ehs.set(a.cond.data as Float32Array, L * D);
    let x: Float32Array = Float32Array.from(a.latents.data as Float32Array);
    const perStep: HostTensor[] = [];
    const total = sampler.timesteps.length;
    for (const [i, t] of sampler.timesteps.entries()) {
      task?.token.throwIfCancelled();
      task?.progress({ stage: 'sampling', done: i, total, detail: `t = ${t}` });
      const batch = new Float32Array(2 * n);
      batch.set(x, 0);
      batch.set(x, n);
      const out = (
        await unet.run({ sample: { dtype: 'float32', dims: [2, c, h, w], data: batch }, timestep: this.timestep(t).tensor, encoder_hidden_states: { dtype: 'float32', dims: [2, L, D], data: ehs } }, [
          'out_sample',
        ])
      ).out_sample.data as Float32Array;
      const guided = new Float32Array(n);
      for (let k = 0; k < n; k++) guided[k] = out[k] + a.guidance * (out[n + k] - out[k]);
      x = sampler.step(guided, t, x);
      perStep.push({ dtype: 'float32', dims: [1, c, h, w], data: x });
    }
    task?.token.throwIfCancelled();
    task?.progress({ stage: 'decoding', done: total, total });
    const image = await this.decode({ dtype: 'float32', dims: [1, c, h, w], data: x.map((v) => v / this.folder.scalingFactor) });
    return { perStep, image, timesteps: sampler.timesteps };
  }

  /** The decoder alone on latents already divided by the scaling factor. */
  async decode(latentSample: HostTensor): Promise<HostTensor> {
    const [, , h, w] = latentSample.dims;
    return (await (await this.session('decoder', h, w)).run({ latent_sample: latentSample }, ['sample'])).sample;
  }

  async dispose(): Promise<void> {
    await this.sessions.clear();
  }
}

/** An image tensor [1, 3, H, W] in [-1, 1] as PNG bytes (clamped, rounded as diffusers' numpy_to_pil). */
export async function imageToPng(image: HostTensor): Promise<Buffer> {
  const [b, ch, H, W] = image.dims;
  if (b !== 1 || ch !== 3) throw new AppError('INVALID_ARGUMENT', `expected an image [1, 3, H, W], got [${image.dims.join(', ')}]`);
  const src = image.data as Float32Array;
  const plane = H * W;
  const rgb = Buffer.alloc(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) {
      const v = Math.min(1, Math.max(0, src[k * plane + p] / 2 + 0.5));
      rgb[3 * p + k] = Math.round(v * 255);
    }
  }
  return sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * Text-to-image sampling as diffusers' StableDiffusionPipeline runs it with a DDIM scheduler:
 * the full UNet on [uncond, cond] as one batch of 2, classifier-free guidance
 * ε = ε_u + g (ε_c - ε_u), a DDIM step per timestep, then the folder's `vae_decoder` on
 * latents / scaling_factor. Progress and cancellation between steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import type { TaskContext } from '../jobs/progress.js';
import type { HostTensor } from '../onnx/ir.js';
import { createSession, type Session } from '../onnx/runtime.js';
import { DdimSampler, readDdimConfig } from './ddim.js';
import type { SdFolder } from './model-folder.js';

/** The folder's `vae_decoder/model.onnx`; a folder without one is named with what to do. */
export function vaeDecoderOf(folder: SdFolder): string {
  const f = path.join(folder.dir, 'vae_decoder', 'model.onnx');
  if (!fs.existsSync(f)) throw new AppError('INVALID_ARGUMENT', `${folder.dir} has no vae_decoder/model.onnx: generating images needs the VAE decoder (optimum-cli export onnx writes it)`);
  return f;
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

export class Generator {
  private unet: Promise<Session> | null = null;
  private decoder: Promise<Session> | null = null;

  constructor(readonly folder: SdFolder) {}

  private timestepFeed(t: number): HostTensor {
    const { timestepRank: rank, timestepDtype: dtype } = this.folder;
    const dims = rank === 0 ? [] : [1];
    if (dtype === 'int64') return { dtype, dims, data: BigInt64Array.from([BigInt(t)]) };
    if (dtype === 'int32') return { dtype, dims, data: Int32Array.from([t]) };
    if (dtype === 'float32') return { dtype, dims, data: Float32Array.from([t]) };
    throw new AppError('ONNX_UNSUPPORTED', `${this.folder.unet}: a ${dtype} timestep input is not supported for generation`);
  }

  async generate(a: GenerateInput, task?: TaskContext): Promise<GenerateOutput> {
    if (a.guidance < 0 || !Number.isFinite(a.guidance)) throw new AppError('INVALID_ARGUMENT', `guidance scale must be a number >= 0, got ${a.guidance}`);
    const sampler = new DdimSampler(readDdimConfig(path.join(this.folder.dir, 'scheduler', 'scheduler_config.json')), a.steps);
    const decoderFile = vaeDecoderOf(this.folder);
    this.unet ??= createSession(this.folder.unet);
    const unet = await this.unet;
    const [, c, h, w] = a.latents.dims;
    const n = c * h * w;
    const [, L, D] = a.cond.dims;
    const ehs = new Float32Array(2 * L * D);
    ehs.set(a.uncond.data as Float32Array, 0);
    ehs.set(a.cond.data as Float32Array, L * D);
    let x: Float32Array = Float32Array.from(a.latents.data as Float32Array);
    const perStep: HostTensor[] = [];
    for (const [i, t] of sampler.timesteps.entries()) {
      task?.token.throwIfCancelled();
      task?.progress({ stage: 'sampling', done: i, total: sampler.timesteps.length, detail: `t = ${t}` });
      const batch = new Float32Array(2 * n);
      batch.set(x, 0);
      batch.set(x, n);
      const out = (
        await unet.run({ sample: { dtype: 'float32', dims: [2, c, h, w], data: batch }, timestep: this.timestepFeed(t), encoder_hidden_states: { dtype: 'float32', dims: [2, L, D], data: ehs } }, ['out_sample'])
      ).out_sample.data as Float32Array;
      const guided = new Float32Array(n);
      for (let k = 0; k < n; k++) guided[k] = out[k] + a.guidance * (out[n + k] - out[k]);
      x = sampler.step(guided, t, x);
      perStep.push({ dtype: 'float32', dims: [1, c, h, w], data: x });
    }
    task?.progress({ stage: 'decoding', done: sampler.timesteps.length, total: sampler.timesteps.length });
    this.decoder ??= createSession(decoderFile);
    const scaled = x.map((v) => v / this.folder.scalingFactor);
    const image = (await (await this.decoder).run({ latent_sample: { dtype: 'float32', dims: [1, c, h, w], data: scaled } }, ['sample'])).sample;
    return { perStep, image, timesteps: sampler.timesteps };
  }

  /** The decoder alone on latents already divided by the scaling factor. */
  async decode(latentSample: HostTensor): Promise<HostTensor> {
    this.decoder ??= createSession(vaeDecoderOf(this.folder));
    return (await (await this.decoder).run({ latent_sample: latentSample }, ['sample'])).sample;
  }

  async dispose(): Promise<void> {
    for (const s of [this.unet, this.decoder]) if (s) await (await s).dispose();
  }
}

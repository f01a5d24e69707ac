/**
 * DDIM sampling as diffusers' DDIMScheduler does it (eta = 0), from the model folder's
 * `scheduler/scheduler_config.json`: the inference timesteps for a step count (`leading`,
 * `trailing` or `linspace` spacing, `steps_offset`), and one step from a model output
 * (`prediction_type` epsilon, v_prediction or sample; optional clipping of the predicted x0; the
 * final step's ᾱ is 1 with `set_alpha_to_one`, else ᾱ_0). ᾱ comes from schedule.ts (float32, as
 * the reference's table).
 */
import fs from 'node:fs';
import { AppError } from '../../../shared/errors.js';
import { alphasCumprod, readSchedulerConfig, type SchedulerConfig, SD_SCHEDULER } from '../training/schedule.js';

export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];
export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

export interface DdimConfig extends SchedulerConfig {
  predictionType: PredictionType;
  stepsOffset: number;
  timestepSpacing: TimestepSpacing;
  clipSample: boolean;
  clipSampleRange: number;
  setAlphaToOne: boolean;
}

/** diffusers' DDIMScheduler defaults (SD 2-1 ships v_prediction, steps_offset 1, leading). */
export const DDIM_DEFAULTS: DdimConfig = {
  ...SD_SCHEDULER,
  predictionType: 'epsilon',
  stepsOffset: 0,
  timestepSpacing: 'leading',
  clipSample: true,
  clipSampleRange: 1,
  setAlphaToOne: true,
};

/** Reads the sampler's settings from `scheduler_config.json`; unsupported options are named. */
export function readDdimConfig(file: string): DdimConfig {
  const base = readSchedulerConfig(file);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const pick = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = (raw[key] ?? dflt) as T;
    if (!allowed.includes(v)) throw new AppError('INVALID_ARGUMENT', `${file}: ${key} '${String(v)}' is not supported (${allowed.join(', ')})`);
    return v;
  };
  for (const key of ['thresholding', 'rescale_betas_zero_snr'] as const) {
    if (raw[key] === true) throw new AppError('INVALID_ARGUMENT', `${file}: ${key} is not supported by the workstation's DDIM sampler`);
  }
  return {
    ...base,
    predictionType: pick('prediction_type', PREDICTION_TYPES, DDIM_DEFAULTS.predictionType),
    stepsOffset: Number(raw.steps_offset ?? DDIM_DEFAULTS.stepsOffset),
    timestepSpacing: pick('timestep_spacing', TIMESTEP_SPACINGS, DDIM_DEFAULTS.timestepSpacing),
    clipSample: raw.clip_sample === undefined ? DDIM_DEFAULTS.clipSample : raw.clip_sample === true,
    clipSampleRange: Number(raw.clip_sample_range ?? DDIM_DEFAULTS.clipSampleRange),
    setAlphaToOne: raw.set_alpha_to_one === undefined ? DDIM_DEFAULTS.setAlphaToOne : raw.set_alpha_to_one === true,
  };
}

/** The inference timesteps, first to last, as DDIMScheduler.set_timesteps computes them. */
export function ddimTimesteps(cfg: DdimConfig, steps: number): number[] {
  const T = cfg.numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new AppError('INVALID_ARGUMENT', `steps must be an integer in 1..${T}, got ${steps}`);
  let ts: number[];
  if (cfg.timestepSpacing === 'leading') {
    const ratio = Math.floor(T / steps);
    ts = Array.from({ length: steps }, (_, i) => Math.round(i * ratio) + cfg.stepsOffset).reverse();
  } else if (cfg.timestepSpacing === 'trailing') {
    const ratio = T / steps;
    ts = Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
  } else {
    ts = Array.from({ length: steps }, (_, i) => roundHalfEven((i * (T - 1)) / (steps - 1 || 1))).reverse();
  }
  return ts;
}

/** numpy's round (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class DdimSampler {
  readonly acp: Float32Array;
  readonly timesteps: number[];
  private readonly stride: number;

  constructor(
    readonly cfg: DdimConfig,
    readonly steps: number,
  ) {
    this.acp = alphasCumprod(cfg);
    this.timesteps = ddimTimesteps(cfg, steps);
    this.stride = Math.floor(cfg.numTrainTimesteps / steps);
  }

  /** x_{t-1} from x_t and the model's output at t (eta 0), element-wise in float32. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (modelOutput.length !== sample.length) throw new RangeError(`DDIM step: model output of ${modelOutput.length} values for a sample of ${sample.length}`);
    const f = Math.fround;
    const prev = t - this.stride;
    const a = this.acp[t];
    const aPrev = prev >= 0 ? this.acp[prev] : this.cfg.setAlphaToOne ? 1 : this.acp[0];
    const sa = f(Math.sqrt(a));
    const sb = f(Math.sqrt(f(1 - a)));
    const saPrev = f(Math.sqrt(aPrev));
    const sbPrev = f(Math.sqrt(f(1 - aPrev)));
    const lim = this.cfg.clipSampleRange;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      let x0: number;
      let eps: number;
      if (this.cfg.predictionType === 'epsilon') {
        x0 = (x - sb * m) / sa;
        eps = m;
      } else if (this.cfg.predictionType === 'v_prediction') {
        x0 = sa * x - sb * m;
        eps = sa * m + sb * x;
      } else {
        x0 = m;
        eps = (x - sa * m) / sb;
      }
      // the direction keeps the unclipped epsilon (diffusers' use_clipped_model_output = False)
      if (this.cfg.clipSample) x0 = Math.min(lim, Math.max(-lim, x0));
      out[i] = saPrev * x0 + sbPrev * eps;
    }
    return out;
  }
}

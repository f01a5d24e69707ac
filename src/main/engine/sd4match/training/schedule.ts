/**
 * The DDPM noise schedule Stable Diffusion trains with, computed in float32 step by step as
 * diffusers does (so sqrt(ᾱ_t) matches the reference bit for bit).
 */
import fs from 'node:fs';
import { AppError } from '../../../shared/errors.js';

export interface SchedulerConfig {
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  numTrainTimesteps: number;
}

export const SD_SCHEDULER: SchedulerConfig = { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', numTrainTimesteps: 1000 };

/** Reads `scheduler/scheduler_config.json` (diffusers' keys). */
export function readSchedulerConfig(file: string): SchedulerConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `${file}: cannot read the scheduler configuration (${(e as Error).message})`);
  }
  const schedule = (raw.beta_schedule as string | undefined) ?? 'scaled_linear';
  if (schedule !== 'scaled_linear' && schedule !== 'linear') {
    throw new AppError('INVALID_ARGUMENT', `${file}: beta_schedule '${schedule}' is not supported (scaled_linear or linear)`);
  }
  return {
    betaStart: Number(raw.beta_start ?? SD_SCHEDULER.betaStart),
    betaEnd: Number(raw.beta_end ?? SD_SCHEDULER.betaEnd),
    betaSchedule: schedule,
    numTrainTimesteps: Number(raw.num_train_timesteps ?? SD_SCHEDULER.numTrainTimesteps),
  };
}

/**
 * ᾱ_t = Π (1 - β_s) with β = linspace(√β0, √β1, T)² (scaled_linear) or linspace(β0, β1, T), in
 * float64 and rounded to float32 at the end (this matches the reference's table exactly).
 */
export function alphasCumprod(cfg: SchedulerConfig = SD_SCHEDULER): Float32Array {
  const n = cfg.numTrainTimesteps;
  const scaled = cfg.betaSchedule === 'scaled_linear';
  const lo = scaled ? Math.sqrt(cfg.betaStart) : cfg.betaStart;
  const hi = scaled ? Math.sqrt(cfg.betaEnd) : cfg.betaEnd;
  const out = new Float32Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) {
    const v = lo + ((hi - lo) * i) / (n - 1);
    acc *= 1 - (scaled ? v * v : v);
    out[i] = acc;
  }
  return out;
}

/** √ᾱ_t and √(1 - ᾱ_t) as diffusers' add_noise computes them (float32). */
export function noiseCoefficients(t: number, acp: Float32Array): { signal: number; noise: number } {
  if (!Number.isInteger(t) || t < 0 || t >= acp.length) {
    throw new AppError('INVALID_ARGUMENT', `timestep must be an integer in [0, ${acp.length - 1}], got ${t}`);
  }
  const f = Math.fround;
  return { signal: f(Math.sqrt(acp[t])), noise: f(Math.sqrt(f(1 - acp[t]))) };
}

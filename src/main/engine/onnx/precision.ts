/**
 * The numeric-precision vocabulary: what a user may ask for (`fp32`, `fp16`, `auto`) and this
 * process's choice. Pure (no Node API, no native module), like providers.ts, so the CLI, the
 * contract and the renderer can load it (`process` is only read where it exists). What a choice resolves to on this machine (a probe of
 * the provider's fp16 kernels) and the float16 graph pass are fp16.ts's business.
 */
import { AppError } from '../../shared/errors.js';

/**
 * `fp32`: every graph in float32 (the default). `fp16`: feature graphs in float16 (weights and
 * activations), with softmax, normalisation, reductions and the loss kept in float32; refused
 * where the provider cannot run float16. `auto`: float16 only on a GPU provider whose fp16
 * kernels pass the probe, float32 on the CPU (ONNX Runtime's CPU fp16 kernels are few and slow).
 */
export const PRECISION_CHOICES = ['fp32', 'fp16', 'auto'] as const;

export type PrecisionChoice = (typeof PRECISION_CHOICES)[number];

/** What a choice resolves to for one provider. */
export type Precision = 'fp32' | 'fp16';

export function isPrecisionChoice(value: unknown): value is PrecisionChoice {
  return typeof value === 'string' && (PRECISION_CHOICES as readonly string[]).includes(value);
}

/** A precision choice from user input (`--precision`, SD4MATCH_PRECISION); `where` names the source in the error. */
export function parsePrecisionChoice(value: string, where: string): PrecisionChoice {
  const v = value.trim().toLowerCase();
  if (isPrecisionChoice(v)) return v;
  throw new AppError('INVALID_ARGUMENT', `unknown precision '${value}' in ${where}; expected one of: ${PRECISION_CHOICES.join(', ')}`);
}

/** The environment variable that carries the choice to job processes and worker threads (they inherit it). */
export const PRECISION_ENV = 'SD4MATCH_PRECISION';

let current: PrecisionChoice | null = null;

/**
 * Sets the precision that this process's feature graphs use when their caller names none (the
 * CLI's `--precision`); also exported in SD4MATCH_PRECISION so the job processes and worker
 * threads this process starts use it too.
 */
export function setPrecisionChoice(choice: PrecisionChoice): void {
  current = choice;
  if (typeof process !== 'undefined') process.env[PRECISION_ENV] = choice;
}

/** This process's precision choice: as set, else SD4MATCH_PRECISION, else `fp32` (float16 is opt-in). */
export function precisionChoice(): PrecisionChoice {
  if (current) return current;
  const env = typeof process !== 'undefined' ? process.env[PRECISION_ENV] : undefined;
  return env ? parsePrecisionChoice(env, PRECISION_ENV) : 'fp32';
}

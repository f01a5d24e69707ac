/**
 * Training checkpoints: everything a run needs to continue bit-exactly — parameters, Adam moments,
 * the best prompt so far, the step, the generator's state and the data order — in one safetensors
 * file in the run folder, written atomically (a crash leaves the previous checkpoint), read back
 * only by a run of the same model and of the settings that shape the parameters and the draws.
 */
import { AppError } from '../../../shared/errors.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { HostTensor } from '../../onnx/ir.js';
import type { AdamState } from './adam.js';
import type { Rng } from '../features/random.js';
import type { TrainConfig } from './train-config.js';
import type { DataOrder } from './training-batch.js';

/** The checkpoint's file name in a run folder. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';

const FORMAT = 'sd4match-checkpoint/1';

/** Settings a resumed run must share with the run that wrote the checkpoint. */
const RESUME_KEYS = ['prompt', 'batch', 'size', 'seed', 'nLearnable'] as const;

/** A run's state between optimizer steps. */
export interface RunState {
  step: number;
  params: Record<string, HostTensor>;
  /**
   * Adam's moments on the host: a new run's zeros or a checkpoint's, handed to the optimiser, which
   * feeds them to its first step from the host on any provider (adam.ts `AdamOptimizer`); a
   * checkpoint written during a run takes them back from it (on WebGPU, from device memory).
   */
  adam: Record<string, AdamState>;
  rng: ReturnType<Rng['state']>;
  order: DataOrder;
  bestPck: number | null;
  best: Record<string, HostTensor> | null;
  bestStep: number | null;
}

/** Who wrote, or may read, a checkpoint: the run's settings and the model's content hash. */
export interface CheckpointOwner {
  config: TrainConfig;
  modelHash: string;
}

/** Writes `state` (with the generator state `rng`, which may be ahead of `state.rng`) to `file` atomically. */
export function writeCheckpoint(file: string, state: RunState, rng: ReturnType<Rng['state']>, owner: CheckpointOwner): void {
  const tensors: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(state.params)) tensors[`param/${k}`] = v;
  for (const [k, v] of Object.entries(state.adam)) {
    tensors[`adam_m/${k}`] = v.m;
    tensors[`adam_v/${k}`] = v.v;
  }
  for (const [k, v] of Object.entries(state.best ?? {})) tensors[`best/${k}`] = v;
  writeSafetensors(file, tensors, {
    format: FORMAT,
    step: String(state.step),
    rng: JSON.stringify(rng),
    order: JSON.stringify(state.order),
    best_pck: JSON.stringify(state.bestPck),
    best_step: JSON.stringify(state.bestStep),
    config: JSON.stringify(owner.config),
    model_hash: owner.modelHash,
  });
}

/**
 * The run state in `file`, refused when it is not a checkpoint, belongs to another model, was
 * written with other settings, or lacks a parameter that a run of these settings has.
 */
export function readCheckpoint(file: string, owner: CheckpointOwner, paramNames: string[]): RunState {
  const st = readSafetensors(file);
  const md = st.metadata;
  if (md.format !== FORMAT) throw new AppError('INVALID_ARGUMENT', `${file} is not a training checkpoint`);
  if (md.model_hash !== owner.modelHash) throw new AppError('INVALID_ARGUMENT', `${file} belongs to another model (hash ${md.model_hash?.slice(0, 12)})`);
  const saved = JSON.parse(md.config) as TrainConfig;
  for (const k of RESUME_KEYS) {
    if (saved[k] !== owner.config[k]) throw new AppError('INVALID_ARGUMENT', `cannot resume: the run was started with ${k} = ${saved[k]}, now ${owner.config[k]}`);
  }
  const pick = (prefix: string) =>
    Object.fromEntries(
      Object.entries(st.tensors)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k.slice(prefix.length), v]),
    );
  const params = pick('param/');
  const m = pick('adam_m/');
  const v = pick('adam_v/');
  const best = pick('best/');
  const missing = paramNames.find((k) => !params[k] || !m[k] || !v[k]);
  if (missing) throw new AppError('INVALID_ARGUMENT', `cannot resume: ${file} has no parameter '${missing}' (or its Adam moments)`);
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

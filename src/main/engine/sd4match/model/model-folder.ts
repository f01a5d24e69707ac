/**
 * Validation of model folders: a Stable Diffusion folder in the layout `optimum-cli export onnx`
 * writes, and a DINOv2 folder. Every problem is collected and named (which file, what was
 * expected), so a user fixes a folder in one go.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import type { Dim, Model, ValueInfo } from '../../onnx/ir.js';
import { loadModel } from '../../onnx/model-io.js';
import { resolveScope } from '../../onnx/scopes.js';
import { specialize } from '../../onnx/specialize.js';
import { readSchedulerConfig, type SchedulerConfig, SD_SCHEDULER } from '../training/schedule.js';

/** The UNet module whose output is SD4Match's feature map (the 2nd up block, after its upsampler). */
export const FEATURE_SCOPE = 'up_blocks.1';

export interface SdFolder {
  dir: string;
  unet: string;
  vaeEncoder: string;
  textEncoder: string;
  /** Tokenizer files, when present (needed for text prompts only). */
  tokenizer: { vocab: string; merges: string } | { json: string } | null;
  scheduler: SchedulerConfig;
  scalingFactor: number;
  /** Width of the text encoder's hidden states = the UNet's cross-attention width. */
  hiddenSize: number;
  latentChannels: number;
  /** dtype of the text encoder's input_ids (int32 or int64). */
  idsDtype: 'int64' | 'int32';
  /** Rank of the UNet's timestep input (0 = scalar, 1 = [1] or [B]). */
  timestepRank: number;
  timestepDtype: 'int64' | 'float32' | 'int32' | 'float16';
  warnings: string[];
}

export interface DinoFolder {
  dir: string;
  model: string;
  /** Token width D; 0 when the export leaves it symbolic and it was not inferred. */
  hiddenSize: number;
  patch: number;
}

function find(io: ValueInfo[], name: string): ValueInfo | undefined {
  return io.find((v) => v.name === name);
}

function describe(v: ValueInfo): string {
  return `${v.dtype} [${(v.shape ?? []).map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

function dimAt(v: ValueInfo | undefined, i: number): Dim {
  return v?.shape?.[i] ?? null;
}

/**
 * Why `scope` cannot be tapped, or null when it can. Resolved the way compileSd resolves it, so an
 * export that wraps the model (`/u/up_blocks.1/...`, scope `u.up_blocks.1`) passes, and an
 * ambiguous or missing scope is reported with the scopes it matches or the ones nearby.
 */
function scopeMissing(model: Model, scope: string): string | null {
  try {
    resolveScope(model.graph, scope);
    return null;
  } catch (e) {
    if (e instanceof AppError && e.code === 'SCOPE_NOT_FOUND') return e.message;
    throw e;
  }
}

function tryLoad(file: string, problems: string[]): Model | null {
  if (!fs.existsSync(file)) {
    problems.push(`${file} is missing`);
    return null;
  }
  try {
    return loadModel(file);
  } catch (e) {
    problems.push((e as Error).message);
    return null;
  }
}

/** The tokenizer files of a Stable Diffusion folder (`tokenizer/`: vocab.json + merges.txt, or tokenizer.json), or null. */
export function findTokenizer(dir: string): SdFolder['tokenizer'] {
  const tokDir = path.join(dir, 'tokenizer');
  if (fs.existsSync(path.join(tokDir, 'vocab.json')) && fs.existsSync(path.join(tokDir, 'merges.txt'))) {
    return { vocab: path.join(tokDir, 'vocab.json'), merges: path.join(tokDir, 'merges.txt') };
  }
  if (fs.existsSync(path.join(tokDir, 'tokenizer.json'))) return { json: path.join(tokDir, 'tokenizer.json') };
  return null;
}

/** Validates a Stable Diffusion folder; throws one error listing every problem. */
export function inspectSdFolder(dirArg: string): SdFolder {
  const dir = path.resolve(dirArg);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new AppError('NOT_FOUND', `model folder ${dir} does not exist`);
  const problems: string[] = [];
  const warnings: string[] = [];
  const unetFile = path.join(dir, 'unet', 'model.onnx');
  const vaeFile = path.join(dir, 'vae_encoder', 'model.onnx');
  const textFile = path.join(dir, 'text_encoder', 'model.onnx');
  const unet = tryLoad(unetFile, problems);
  const vae = tryLoad(vaeFile, problems);
  const text = tryLoad(textFile, problems);

  let scheduler = SD_SCHEDULER;
  const schedFile = path.join(dir, 'scheduler', 'scheduler_config.json');
  if (fs.existsSync(schedFile)) {
    try {
      scheduler = readSchedulerConfig(schedFile);
    } catch (e) {
      problems.push((e as Error).message);
    }
  } else {
    problems.push(`${schedFile} is missing`);
  }
  if (!fs.existsSync(path.join(dir, 'model_index.json'))) warnings.push(`${path.join(dir, 'model_index.json')} is missing (not needed by the workstation)`);

  let scalingFactor = 0.18215;
  const vaeCfg = path.join(dir, 'vae_encoder', 'config.json');
  if (fs.existsSync(vaeCfg)) {
    try {
      const sf = (JSON.parse(fs.readFileSync(vaeCfg, 'utf8')) as { scaling_factor?: number }).scaling_factor;
      if (typeof sf === 'number') scalingFactor = sf;
      else warnings.push(`${vaeCfg} has no scaling_factor; using 0.18215 (SD 1.x/2.x)`);
    } catch (e) {
      problems.push(`${vaeCfg}: not valid JSON (${(e as Error).message})`);
    }
  } else {
    warnings.push(`${vaeCfg} is missing; using scaling_factor 0.18215 (SD 1.x/2.x)`);
  }

  const tokenizer = findTokenizer(dir);
  if (!tokenizer) {
    warnings.push(`${path.join(dir, 'tokenizer')} has no vocab.json + merges.txt or tokenizer.json: the empty prompt, text prompts, training and generation are unavailable`);
  }

  let hiddenSize = 0;
  let latentChannels = 0;
  let idsDtype: SdFolder['idsDtype'] = 'int64';
  let timestepRank = 0;
  let timestepDtype: SdFolder['timestepDtype'] = 'int64';
  if (unet) {
    const sample = find(unet.graph.inputs, 'sample');
    const ts = find(unet.graph.inputs, 'timestep');
    const ehs = find(unet.graph.inputs, 'encoder_hidden_states');
    if (!sample || sample.dtype !== 'float32' || sample.shape?.length !== 4) {
      problems.push(`${unetFile}: needs input 'sample' float32 [batch, channels, height, width]${sample ? `, has ${describe(sample)}` : ''}`);
    } else if (typeof sample.shape[1] === 'number') latentChannels = sample.shape[1];
    if (!ts) problems.push(`${unetFile}: needs input 'timestep'`);
    else {
      timestepRank = ts.shape?.length ?? 0;
      if (!['int64', 'float32', 'int32', 'float16'].includes(ts.dtype)) problems.push(`${unetFile}: input 'timestep' is ${ts.dtype}`);
      timestepDtype = ts.dtype as SdFolder['timestepDtype'];
    }
    if (!ehs || ehs.dtype !== 'float32' || ehs.shape?.length !== 3) {
      problems.push(`${unetFile}: needs input 'encoder_hidden_states' float32 [batch, sequence, width]${ehs ? `, has ${describe(ehs)}` : ''}`);
    } else if (typeof ehs.shape[2] === 'number') hiddenSize = ehs.shape[2];
    const scopeProblem = scopeMissing(unet, FEATURE_SCOPE);
    if (scopeProblem) problems.push(`${unetFile}: ${scopeProblem} (is this a diffusers UNet export?)`);
  }
  if (vae) {
    const s = find(vae.graph.inputs, 'sample');
    const lp = find(vae.graph.outputs, 'latent_parameters');
    if (!s || s.shape?.length !== 4 || dimAt(s, 1) !== 3) problems.push(`${vaeFile}: needs input 'sample' float32 [batch, 3, height, width]${s ? `, has ${describe(s)}` : ''}`);
    if (!lp) problems.push(`${vaeFile}: needs output 'latent_parameters' (mean and log-variance), has ${vae.graph.outputs.map((o) => o.name).join(', ')}`);
    else if (latentChannels && typeof dimAt(lp, 1) === 'number' && dimAt(lp, 1) !== 2 * latentChannels) {
      problems.push(`${vaeFile}: 'latent_parameters' has ${dimAt(lp, 1)} channels; the UNet's sample has ${latentChannels}, so 2 x ${latentChannels} = ${2 * latentChannels} were expected`);
    }
  }
  if (text) {
    const ids = find(text.graph.inputs, 'input_ids');
    const lhs = find(text.graph.outputs, 'last_hidden_state');
    if (!ids || (ids.dtype !== 'int64' && ids.dtype !== 'int32')) problems.push(`${textFile}: needs input 'input_ids' int64 [batch, sequence]${ids ? `, has ${describe(ids)}` : ''}`);
    else idsDtype = ids.dtype;
    if (!lhs) problems.push(`${textFile}: needs output 'last_hidden_state', has ${text.graph.outputs.map((o) => o.name).join(', ')}`);
    else if (hiddenSize && typeof dimAt(lhs, 2) === 'number' && dimAt(lhs, 2) !== hiddenSize) {
      problems.push(`${textFile}: 'last_hidden_state' is ${dimAt(lhs, 2)} wide but the UNet's encoder_hidden_states are ${hiddenSize} wide (text encoder and UNet are from different models)`);
    }
    const scopeProblem = scopeMissing(text, 'embeddings');
    if (scopeProblem) problems.push(`${textFile}: ${scopeProblem} (is this a CLIP text encoder export?)`);
  }
  if (problems.length) {
    throw new AppError('INVALID_ARGUMENT', `${dir} is not a usable Stable Diffusion folder:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    dir,
    unet: unetFile,
    vaeEncoder: vaeFile,
    textEncoder: textFile,
    tokenizer,
    scheduler,
    scalingFactor,
    hiddenSize,
    latentChannels,
    idsDtype,
    timestepRank,
    timestepDtype,
    warnings,
  };
}

/**
 * Validates a DINOv2 folder (`model.onnx`: pixel_values -> last_hidden_state [B, 1 + patches, D]).
 * `hiddenSize` is D when the export declares it; with `inferWidth` (validation reports) a symbolic D
 * is found by shape inference. Running the model needs neither: its patches carry the width.
 */
export function inspectDinoFolder(dirArg: string, options: { inferWidth?: boolean } = {}): DinoFolder {
  const dir = path.resolve(dirArg);
  const file = fs.existsSync(path.join(dir, 'model.onnx')) ? path.join(dir, 'model.onnx') : path.join(dir, 'onnx', 'model.onnx');
  const problems: string[] = [];
  const m = tryLoad(file, problems);
  let hiddenSize = 0;
  if (m) {
    const px = find(m.graph.inputs, 'pixel_values');
    const lhs = find(m.graph.outputs, 'last_hidden_state');
    if (!px || px.shape?.length !== 4) problems.push(`${file}: needs input 'pixel_values' float32 [batch, 3, 224, 224]`);
    if (!lhs) problems.push(`${file}: needs output 'last_hidden_state' [batch, 257, width]`);
    else if (typeof dimAt(lhs, 2) === 'number') hiddenSize = dimAt(lhs, 2) as number;
    else if (options.inferWidth && px && px.shape?.length === 4) {
      // exports often leave the width symbolic: shape inference at 224 x 224 finds it
      try {
        hiddenSize = specialize(m, { pixel_values: [1, 3, 224, 224] }, { outputs: ['last_hidden_state'] }).info.get('last_hidden_state')?.dims[2] ?? 0;
      } catch (e) {
        problems.push(`${file}: the width of 'last_hidden_state' cannot be inferred at 224 x 224: ${(e as Error).message}`);
      }
    }
  }
  if (problems.length) throw new AppError('INVALID_ARGUMENT', `${dir} is not a usable DINOv2 folder:\n  - ${problems.join('\n  - ')}`);
  return { dir, model: file, hiddenSize, patch: 14 };
}

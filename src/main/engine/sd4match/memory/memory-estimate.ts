/**
 * Knowing before running out: the peak memory of an evaluation or a training run, estimated from
 * the shapes and the memory plan of the graphs it will run (onnx/memory-plan.ts), before any
 * large session exists; and, when it will not fit in what the machine has free, the settings that
 * would (smaller micro-batches with gradient accumulation, a smaller image size).
 *
 * The estimate is what one job process holds at its peak: the process itself (Node and ONNX
 * Runtime, measured), the weights of the model parts it maps (each once, runtime.ts), and the
 * planned activations of the largest graph it runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import { AppError } from '../../../shared/errors.js';
import { tensorByteLength } from '../../onnx/ir.js';
import { loadModel } from '../../onnx/model-io.js';
import type { ProviderName } from '../../onnx/runtime.js';
import { PROMPT_KINDS } from '../prompts/kinds/index.js';
import type { Generator } from '../generation/generate.js';
import type { PromptKind } from '../prompts/prompts.js';
import type { SdModel } from '../model/sd-model.js';
import { StepGraph } from '../training/step-graph-cache.js';

const GB = 1e9;

export interface MemoryEstimate {
  /** Peak bytes of the whole job process. */
  bytes: number;
  weights: number;
  activations: number;
  /** The process without models (Node, ONNX Runtime, the store). */
  base: number;
  /** What the estimate covers, for messages. */
  what: string;
}

/** Bytes of the weights an ONNX model reads (what a session maps or loads). */
export function modelFileBytes(onnx: string): number {
  let n = 0;
  for (const t of loadModel(onnx).graph.initializers.values()) n += tensorByteLength(t);
  return n;
}

/**
 * ONNX Runtime's peak activations exceed the plan's (its own node order after fusions, kernel
 * workspaces such as im2col buffers, Scan's stacked outputs): measured on SD 2-1's 768 px training
 * graph, 5.0 GB against a plan of 4.1 GB.
 */
const RUNTIME_OVERHEAD = 1.2;

/**
 * What ONNX Runtime adds to a process once its sessions have run, beyond weights and planned
 * activations: kernel code pages, thread pools, allocator slack between runs. Measured at about
 * 0.05 GB in job processes (glibc tuned as jobProcessEnv does) on the tiny model at 256 and 512 px.
 */
const SESSION_STATE = 0.05 * GB;

/** The process's own footprint before it loads large models: what it holds now, and the runtime's state. */
function processBase(): number {
  return process.memoryUsage().rss + SESSION_STATE;
}

/** Memory estimate of computing features at `size` px with an ensemble of K (chunked as `features` does). */
export function estimateFeatureMemory(sd: SdModel, size: number, K: number): MemoryEstimate {
  const lat = sd.latentSize(size);
  const k = sd.ensembleChunk(1, K, lat, lat);
  const g = sd.featureGraph(1, k, lat, lat);
  const weights = g.weightBytes + modelFileBytes(sd.folder.vaeEncoder) + modelFileBytes(sd.compiled.textFromEmbeds);
  const base = processBase();
  // the VAE encoder runs before the UNet, on the same image: the larger of the two peaks counts
  const activations = RUNTIME_OVERHEAD * Math.max(g.activationBytes, sd.vaePlan(size).activationBytes);
  return { bytes: base + weights + activations, weights, activations, base, what: `features at ${size} px, ensemble ${K} (${k} draw${k > 1 ? 's' : ''} per run)` };
}

export interface TrainMemoryArgs {
  size: number;
  batch: number;
  prompt: PromptKind;
  /** Keypoint rows per pair (padded). */
  N: number;
  /** Weights of further models the run maps (DINOv2 for CPM prompts). */
  extraWeights?: number;
}

/** Memory estimate of a training run: its step graph (built into the disk cache if needed) and the VAE. */
export function estimateTrainingMemory(sd: SdModel, a: TrainMemoryArgs): MemoryEstimate {
  const lat = sd.latentSize(a.size);
  const step = new StepGraph(sd, { B: a.batch, P: PROMPT_KINDS[a.prompt].promptsPerStep(a.batch), N: a.N, h: lat, w: lat, latents: 'moments', frame: { h: a.size, w: a.size } });
  const meta = step.build();
  const weights = meta.weightBytes + modelFileBytes(sd.folder.vaeEncoder) + (a.extraWeights ?? 0);
  const base = processBase();
  const activations = RUNTIME_OVERHEAD * Math.max(meta.activationBytes, sd.vaePlan(a.size).activationBytes);
  return { bytes: base + weights + activations, weights, activations, base, what: `training at ${a.size} px with batch ${a.batch}` };
}

/** Memory this machine can give a job now (RAM; GPU memory where the provider reports it). */
export function availableMemory(provider: ProviderName | string = 'cpu'): { bytes: number; source: string } | null {
  if (provider !== 'cpu') return null; // GPU memory is not reported through onnxruntime-node
  const override = Number(process.env.SD4MATCH_AVAILABLE_MEMORY_GB);
  if (Number.isFinite(override) && override > 0) return { bytes: override * GB, source: 'SD4MATCH_AVAILABLE_MEMORY_GB' };
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return { bytes: Number(m[1]) * 1024, source: 'available RAM' };
  } catch {
    // not Linux
  }
  return { bytes: os.freemem(), source: 'free RAM' };
}

export function gb(bytes: number): string {
  if (bytes < 0.1 * GB) return `${(bytes / GB).toFixed(2)} GB`;
  return `${(bytes / GB).toFixed(bytes < 10 * GB ? 1 : 0)} GB`;
}

/**
 * Refuses a training configuration that will not fit, naming the settings that would: the largest
 * micro-batch that fits, with the accumulation that keeps the effective batch, else a smaller size.
 * Activations grow linearly with the pairs of a step, so the micro-batch comes from two memory
 * plans (batch 1 and the requested batch) rather than one per candidate.
 */
export function checkTrainingFits(sd: SdModel, a: TrainMemoryArgs & { accumulate: number }, provider: string): MemoryEstimate {
  const est = estimateTrainingMemory(sd, a);
  const avail = availableMemory(provider);
  if (!avail || est.bytes <= avail.bytes) return est;
  const effective = a.batch * a.accumulate;
  let suggestion: string | null = null;
  const one = a.batch > 1 ? estimateTrainingMemory(sd, { ...a, batch: 1 }) : est;
  if (one.bytes <= avail.bytes) {
    const perPair = (est.bytes - one.bytes) / (a.batch - 1);
    const b = Math.max(1, Math.min(a.batch - 1, 1 + Math.floor((avail.bytes - one.bytes) / perPair)));
    const acc = Math.ceil(effective / b);
    const bytes = one.bytes + (b - 1) * perPair;
    suggestion = `--batch ${b} --accumulate ${acc} (about ${gb(bytes)}${b * acc !== effective ? `, effective batch ${b * acc}` : ''})`;
  } else {
    for (const size of [640, 512, 384, 256].filter((s) => s < a.size)) {
      const e = estimateTrainingMemory(sd, { ...a, batch: 1, size });
      if (e.bytes <= avail.bytes) {
        suggestion = `--size ${size} --batch 1 --accumulate ${effective} (about ${gb(e.bytes)})`;
        break;
      }
    }
  }
  throw new AppError(
    'OUT_OF_MEMORY',
    `${est.what} needs about ${gb(est.bytes)} (weights ${gb(est.weights)}, activations ${gb(est.activations)}), ${gb(avail.bytes)} ${avail.source === 'available RAM' ? 'are free' : `are available (${avail.source})`}: ${suggestion ? `use ${suggestion}` : 'no batch or image size fits; free memory or use a GPU with more memory'}`,
  );
}

/**
 * The full UNet of generation peaks well above its plan: ONNX Runtime's CPU MultiHeadAttention
 * holds working buffers the plan does not see (measured on SD 2-1 with 'fused' attention: 2.7x the
 * planned activations at 512 px, 2.9x at 768 px; the same graph with plain attention peaks at its
 * plan). The factor replaces RUNTIME_OVERHEAD for that graph.
 */
const GENERATION_UNET_OVERHEAD = 3;

/**
 * Memory estimate of generating at `size` px, phase by phase (each phase's sessions are closed
 * before the next one's open): the text encoder on the prompts, the full UNet on [uncond, cond]
 * with its activations in its arena, then the VAE decoder, whose weights count twice (its NCHWc
 * convolutions keep a reordered copy). The largest phase counts.
 */
export function estimateGenerationMemory(sd: SdModel, gen: Generator, size: number): MemoryEstimate {
  const lat = sd.latentSize(size);
  const unet = gen.unetGraph(lat, lat);
  const decoder = gen.decoderGraph(lat, lat);
  const phases = [
    { weights: modelFileBytes(sd.compiled.textFromEmbeds) + modelFileBytes(sd.compiled.embed), activations: 0 },
    { weights: unet.weightBytes, activations: GENERATION_UNET_OVERHEAD * unet.activationBytes },
    { weights: 2 * decoder.weightBytes, activations: RUNTIME_OVERHEAD * decoder.activationBytes },
  ];
  const peak = phases.reduce((a, b) => (b.weights + b.activations > a.weights + a.activations ? b : a));
  const { weights, activations } = peak;
  const base = processBase();
  return { bytes: base + weights + activations, weights, activations, base, what: `generating at ${size} px (UNet on a batch of 2, then the VAE decoder)` };
}

/** Refuses a generation size that will not fit, naming the largest size that would. */
export function checkGenerationFits(sd: SdModel, gen: Generator, size: number, provider: string): MemoryEstimate {
  const est = estimateGenerationMemory(sd, gen, size);
  const avail = availableMemory(provider);
  if (!avail || est.bytes <= avail.bytes) return est;
  const smaller = [640, 512, 384, 256].filter((s) => s < size).find((s) => estimateGenerationMemory(sd, gen, s).bytes <= avail.bytes);
  throw new AppError('OUT_OF_MEMORY', `${est.what} needs about ${gb(est.bytes)}, ${gb(avail.bytes)} are free: ${smaller ? `use --size ${smaller}` : 'free memory first'}`);
}

/** Refuses an evaluation or a Compare request that will not fit (the ensemble already runs in chunks). */
export function checkFeaturesFit(sd: SdModel, size: number, K: number, provider: string): MemoryEstimate {
  const est = estimateFeatureMemory(sd, size, K);
  const avail = availableMemory(provider);
  if (!avail || est.bytes <= avail.bytes) return est;
  const smaller = [640, 512, 384, 256].filter((s) => s < size).find((s) => estimateFeatureMemory(sd, s, K).bytes <= avail.bytes);
  throw new AppError('OUT_OF_MEMORY', `${est.what} needs about ${gb(est.bytes)}, ${gb(avail.bytes)} are free: ${smaller ? `use --size ${smaller}` : 'free memory first'}`);
}

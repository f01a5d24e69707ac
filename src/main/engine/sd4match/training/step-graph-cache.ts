/**
 * The step graph of training, shared by `debug step` and the trainer: for one shape (pairs,
 * prompts, keypoint rows, latent grid), the text encoder, UNet features of 2B images, the loss and
 * d loss / d token embeddings in one run (loss-grad-graph.ts).
 *
 * Built step graphs are cached on disk like compiled graphs, keyed by the compiled model and
 * everything that shapes the graph: a second run, a resumed run or an eval after a run loads the
 * file (weights hard-linked to the compiled graphs' data, memory-mapped by ONNX Runtime) instead
 * of building it again. The cache entry also records the graph's memory plan.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REMAT_DEFAULTS } from '../../autodiff/patterns.js';
import { publishDir } from '../../cache/publish.js';
import { attentionOptions } from '../../onnx/attention.js';
import type { HostTensor } from '../../onnx/ir.js';
import { planMemory } from '../../onnx/memory-plan.js';
import { convertToFloat16 } from '../../onnx/fp16.js';
import { loadModel, saveModel } from '../../onnx/model-io.js';
import type { Precision } from '../../onnx/precision.js';
import type { ProviderName } from '../../onnx/providers.js';
import { createSession } from '../../onnx/runtime.js';
import { DEFAULT_LOSS, type LossKeypoints, lossFeeds, type LossSettings } from './loss.js';
import type { SdModel } from '../model/sd-model.js';
import { CONTEXT_LENGTH } from '../model/tokenizer.js';
import { buildTrainingGraph, type TrainGraphDims } from './loss-grad-graph.js';

/** Bump when step graphs change meaning or layout. */
const STEP_GRAPH_VERSION = 5;

export interface StepShape {
  B: number;
  /** Prompts fed per step (default 1: one prompt for every image). */
  P?: number;
  N: number;
  /** Latent grid (S/8). */
  h: number;
  w: number;
  latents: 'noisy' | 'moments';
  frame: { h: number; w: number };
}

/** What building a step graph revealed, stored beside it. */
export interface StepGraphMeta {
  version: number;
  grid: { C: number; h: number; w: number };
  gradName: string;
  /** The memory plan: peak bytes of activations and bytes of the weights the graph reads. */
  activationBytes: number;
  weightBytes: number;
  built: string;
  buildSeconds: number;
}

export class StepGraph {
  grid: { C: number; h: number; w: number } | null = null;
  private meta: StepGraphMeta | null = null;
  /** The provider the session will run on (ready()); the attention form depends on it (attention.ts). */
  private provider: ProviderName | undefined;

  constructor(
    private readonly sd: SdModel,
    readonly shape: StepShape,
    private readonly loss: LossSettings = DEFAULT_LOSS,
  ) {}

  get P(): number {
    return this.shape.P ?? 1;
  }

  private dims(): TrainGraphDims {
    const f = this.sd.folder;
    return {
      B: this.shape.B,
      P: this.P,
      N: this.shape.N,
      c: f.latentChannels,
      h: this.shape.h,
      w: this.shape.w,
      seq: CONTEXT_LENGTH,
      hidden: f.hiddenSize,
      scalingFactor: f.scalingFactor,
      timestepShape: f.timestepRank === 0 ? [] : [-1],
      timestepDtype: f.timestepDtype,
      latents: this.shape.latents,
      frame: this.shape.frame,
    };
  }

  /** The cache folder of this graph: compiled model, dims, loss, policies and graph version. */
  get dir(): string {
    const spec = JSON.stringify({ v: STEP_GRAPH_VERSION, d: this.dims(), loss: this.loss, remat: REMAT_DEFAULTS, attention: attentionOptions(this.provider ?? this.sd.providerHint) });
    const key = crypto.createHash('sha256').update(`${this.sd.compiled.key}:${spec}`).digest('hex').slice(0, 24);
    return path.join(this.sd.compiled.dir, 'step-graphs', key);
  }

  private sessionKey(precision: Precision): string {
    return `train:${path.basename(this.dir)}:${precision}`;
  }

  /** Builds the graph into the disk cache unless it is there; returns what building revealed. */
  build(): StepGraphMeta {
    if (this.meta) return this.meta;
    const dir = this.dir;
    const current = readMeta(dir);
    if (current) return this.remember(current);
    const t0 = Date.now();
    const g = buildTrainingGraph(loadModel(this.sd.compiled.unetFeatures), loadModel(this.sd.compiled.textFromEmbeds), this.dims(), {
      loss: this.loss,
      attention: attentionOptions(this.provider ?? this.sd.providerHint),
    });
    const plan = planMemory(g.model.graph, (t) => g.info.get(t));
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      saveModel(g.model, path.join(tmp, 'step.onnx'), { externalData: 'always' });
      const meta: StepGraphMeta = {
        version: STEP_GRAPH_VERSION,
        grid: g.grid,
        gradName: g.gradName,
        activationBytes: plan.peakBytes,
        weightBytes: plan.weightBytes,
        built: new Date().toISOString(),
        buildSeconds: (Date.now() - t0) / 1000,
      };
      fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
      // another process may have built the same graph meanwhile: then its folder stays
      return this.remember(publishDir(tmp, dir, (d) => readMeta(d) !== null) === 'ours' ? meta : readMeta(dir)!);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  private remember(meta: StepGraphMeta): StepGraphMeta {
    this.meta = meta;
    this.grid = meta.grid;
    return meta;
  }

  /** Builds (or loads) the graph for the provider its session will run on; returns the feature grid the loss sees. */
  async ready(): Promise<{ C: number; h: number; w: number }> {
    if (!this.provider) {
      this.provider = await this.sd.plannedProvider();
      this.meta = null; // a graph built before (for another provider's attention form) is not this one
    }
    return this.build().grid;
  }

  /**
   * The step graph's session. In float16 (a GPU provider that runs it, when the user allows it:
   * SdModel.featurePrecision) the converted graph is kept beside the float32 one (weights
   * halved, external data), made once: products and convolutions in float16, softmax,
   * normalisation and the loss in float32 (onnx/fp16.ts); the optimiser is a graph of its own
   * and stays float32.
   */
  private async session() {
    const precision = await this.sd.featurePrecision();
    let file = path.join(this.dir, 'step.onnx');
    if (precision === 'fp16') {
      const half = path.join(this.dir, 'step-fp16.onnx');
      if (!fs.existsSync(half)) {
        const tmp = path.join(this.dir, `.step-fp16.tmp-${process.pid}`);
        fs.rmSync(tmp, { recursive: true, force: true });
        saveModel(convertToFloat16(loadModel(file)).model, path.join(tmp, 'step-fp16.onnx'), { externalData: 'always' });
        // the graph and its data file move in one rename each, data first
        for (const f of fs.readdirSync(tmp).sort((a, b) => Number(a.endsWith('.onnx')) - Number(b.endsWith('.onnx')))) fs.renameSync(path.join(tmp, f), path.join(this.dir, f));
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      file = half;
    }
    return this.sd.sessions.getOrCreate(this.sessionKey(precision), () => createSession(file, { providers: this.sd.providers, constantFolding: false }), this.sd.parts('unet', 'text'));
  }

  /** The `timestep` feed: diffusion step t for all 2B images (a scalar when the UNet takes one). */
  timestep(t: number): HostTensor {
    const n = 2 * this.shape.B;
    return this.sd.folder.timestepRank === 0 ? { dtype: 'int64', dims: [], data: BigInt64Array.from([BigInt(t)]) } : { dtype: 'int64', dims: [n], data: new BigInt64Array(n).fill(BigInt(t)) };
  }

  /** Sampling plans for a batch of keypoints. */
  plans(k: Omit<LossKeypoints, 'srcFrame' | 'trgFrame'>): Record<string, HostTensor> {
    const g = this.grid!;
    return lossFeeds({ ...k, srcFrame: this.shape.frame, trgFrame: this.shape.frame }, { B: this.shape.B, N: this.shape.N, C: g.C, h: g.h, w: g.w, h2: g.h, w2: g.w }, this.loss);
  }

  /**
   * Loss and its gradient w.r.t. the token embeddings of the P prompts; `prompt_index` [2B]
   * says which prompt each image (sources, then targets) uses.
   */
  async run(feeds: Record<string, HostTensor>): Promise<{ loss: number; gradTokens: HostTensor }> {
    const meta = this.build();
    const out = await (await this.session()).run(feeds, ['loss', meta.gradName]);
    return { loss: (out.loss.data as Float32Array)[0], gradTokens: out[meta.gradName] };
  }
}

/** The metadata of a built step graph in `dir`, when it is there and of the current version. */
function readMeta(dir: string): StepGraphMeta | null {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as StepGraphMeta;
    return meta.version === STEP_GRAPH_VERSION ? meta : null;
  } catch {
    return null;
  }
}

/** prompt_index for 2B images whose pair b uses prompt promptOf[b]: sources, then targets. */
export function promptIndex(promptOf: number[]): HostTensor {
  const B = promptOf.length;
  const data = new BigInt64Array(2 * B);
  promptOf.forEach((p, b) => {
    data[b] = BigInt(p);
    data[B + b] = BigInt(p);
  });
  return { dtype: 'int64', dims: [2 * B], data };
}

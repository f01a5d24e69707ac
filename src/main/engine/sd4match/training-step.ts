/**
 * The pieces of one training step, shared by `debug step` and the trainer:
 *  - the step graph (features of 2B images, loss, d loss / d prompt hidden states) per shape;
 *  - the text encoder's VJP from hidden-state gradients to token-embedding gradients.
 */
import { buildVjp } from '../autodiff/backprop.js';
import type { HostTensor, Model } from '../onnx/ir.js';
import { loadModel } from '../onnx/model-io.js';
import { specialize } from '../onnx/specialize.js';
import { DEFAULT_LOSS, type LossKeypoints, lossFeeds, type LossSettings } from './loss.js';
import type { SdModel } from './sd-model.js';
import { buildTrainingGraph, type TrainGraphDims } from './train-graph.js';

const unetTaps = new WeakMap<SdModel, Model>();
/** What building a step graph revealed (feature grid, gradient output name), per model and key. */
const stepMeta = new WeakMap<SdModel, Map<string, { grid: { C: number; h: number; w: number }; gradName: string }>>();
const textCuts = new WeakMap<SdModel, Model>();

function unetTapOf(sd: SdModel): Model {
  let m = unetTaps.get(sd);
  if (!m) unetTaps.set(sd, (m = loadModel(sd.compiled.unetFeatures)));
  return m;
}

function textCutOf(sd: SdModel): Model {
  let m = textCuts.get(sd);
  if (!m) textCuts.set(sd, (m = loadModel(sd.compiled.textFromEmbeds)));
  return m;
}

export interface StepShape {
  B: number;
  N: number;
  /** Latent grid (S/8). */
  h: number;
  w: number;
  latents: 'noisy' | 'moments';
  frame: { h: number; w: number };
}

export class StepGraph {
  grid: { C: number; h: number; w: number } | null = null;
  private gradName = '';

  constructor(
    private readonly sd: SdModel,
    readonly shape: StepShape,
    private readonly loss: LossSettings = DEFAULT_LOSS,
  ) {}

  private dims(): TrainGraphDims {
    const f = this.sd.folder;
    return {
      B: this.shape.B,
      N: this.shape.N,
      c: f.latentChannels,
      h: this.shape.h,
      w: this.shape.w,
      seq: 77,
      hidden: f.hiddenSize,
      scalingFactor: f.scalingFactor,
      timestepShape: f.timestepRank === 0 ? [] : [-1],
      timestepDtype: f.timestepDtype,
      latents: this.shape.latents,
      frame: this.shape.frame,
    };
  }

  private key(): string {
    const s = this.shape;
    return `train:${s.B}:${s.N}:${s.h}:${s.w}:${s.latents}:${this.loss.temperature}:${this.loss.kernel}:${this.loss.sigma}`;
  }

  /** Builds (or reuses) the session; returns the feature grid the loss sees. */
  async ready(): Promise<{ C: number; h: number; w: number }> {
    let metas = stepMeta.get(this.sd);
    if (!metas) stepMeta.set(this.sd, (metas = new Map()));
    const key = this.key();
    await this.sd.sessions.get(key, () => {
      const g = buildTrainingGraph(unetTapOf(this.sd), this.dims(), this.loss);
      metas.set(key, { grid: g.grid, gradName: g.vjp.gradOutputs.encoder_hidden_states });
      return g.vjp.model;
    });
    const meta = metas.get(key)!;
    this.grid = meta.grid;
    this.gradName = meta.gradName;
    return this.grid;
  }

  /** Sampling plans for a batch of keypoints. */
  plans(k: Omit<LossKeypoints, 'srcFrame' | 'trgFrame'>): Record<string, HostTensor> {
    const g = this.grid!;
    return lossFeeds({ ...k, srcFrame: this.shape.frame, trgFrame: this.shape.frame }, { B: this.shape.B, N: this.shape.N, C: g.C, h: g.h, w: g.w, h2: g.h, w2: g.w }, this.loss);
  }

  /** Loss and its gradient w.r.t. the hidden states of the 2B images. */
  async run(feeds: Record<string, HostTensor>): Promise<{ loss: number; gradEhs: HostTensor }> {
    await this.ready();
    const session = await this.sd.sessions.get(this.key(), () => {
      throw new Error('step graph evicted');
    });
    const out = await session.run(feeds, ['loss', this.gradName]);
    return { loss: (out.loss.data as Float32Array)[0], gradEhs: out[this.gradName] };
  }
}

/** d<hidden states, cotangent>/d token embeddings for P prompts [P, 77, D] (the text encoder's VJP). */
export async function textVjp(sd: SdModel, tokenEmbeds: HostTensor, cotangent: HostTensor): Promise<{ hidden: HostTensor; grad: HostTensor }> {
  const P = tokenEmbeds.dims[0];
  let gradName = '';
  let cotName = '';
  const session = await sd.sessions.get(`textvjp:${P}`, () => {
    const spec = specialize(textCutOf(sd), { inputs_embeds: tokenEmbeds.dims });
    const v = buildVjp(spec, { wrt: ['inputs_embeds'], output: 'last_hidden_state' });
    gradName = v.gradOutputs.inputs_embeds;
    cotName = v.cotangentInput!;
    return v.model;
  });
  gradName ||= session.outputNames.find((n) => n.startsWith('grad_inputs_embeds'))!;
  cotName ||= session.inputNames.find((n) => n.startsWith('grad_last_hidden_state'))!;
  const out = await session.run({ inputs_embeds: tokenEmbeds, [cotName]: cotangent });
  return { hidden: out.last_hidden_state, grad: out[gradName] };
}

/** Rows [start, end) of a [1|P, 77, D] tensor along axis 1. */
export function rows(t: HostTensor, start: number, end: number): HostTensor {
  const [P, , D] = t.dims;
  const L = t.dims[1];
  const out = new Float32Array(P * (end - start) * D);
  const src = t.data as Float32Array;
  for (let p = 0; p < P; p++) out.set(src.subarray((p * L + start) * D, (p * L + end) * D), p * (end - start) * D);
  return { dtype: 'float32', dims: [P, end - start, D], data: out };
}

/** `base` with rows [start, start + r.rows) replaced by `r`. */
export function withRows(base: HostTensor, start: number, r: HostTensor): HostTensor {
  const [P, L, D] = base.dims;
  const out = new Float32Array(base.data as Float32Array);
  const n = r.dims[1];
  for (let p = 0; p < P; p++) out.set((r.data as Float32Array).subarray((r.dims[0] === 1 ? 0 : p) * n * D, ((r.dims[0] === 1 ? 0 : p) + 1) * n * D), (p * L + start) * D);
  return { dtype: 'float32', dims: [P, L, D], data: out };
}

/** Repeats a [1, 77, D] tensor n times along the batch axis. */
export function repeatBatch(t: HostTensor, n: number): HostTensor {
  const out = new Float32Array(t.data.length * n);
  for (let i = 0; i < n; i++) out.set(t.data as Float32Array, i * t.data.length);
  return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data: out };
}

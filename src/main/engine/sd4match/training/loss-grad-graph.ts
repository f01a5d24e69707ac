/**
 * The training graph of one SD4Match step, one ONNX Runtime run: the text encoder on the prompts'
 * token embeddings, each image's prompt picked from them, UNet features of the source and target
 * images of B pairs (from noisy latents, or sampled in-graph from cached VAE moments), the loss,
 * and the gradient of the loss with respect to the token embeddings — the backward pass reusing
 * the forward activations, except the attention probabilities of large attention layers, which it
 * recomputes per block of query rows (autodiff/patterns.ts); the forward computes those layers
 * with a fused kernel (onnx/attention.ts). CPM's own small graph then carries the token gradient to
 * its parameters; Single and Class prompts read theirs off the token rows.
 */
import { buildVjp } from '../../autodiff/backprop.js';
import type { RematPolicy } from '../../autodiff/patterns.js';
import { type AttentionRewriteOptions, attentionOptions, rewriteAttention } from '../../onnx/attention.js';
import { ModelBuilder } from '../../onnx/builder.js';
import type { DType } from '../../onnx/dtypes.js';
import { defaultOpset, type Model } from '../../onnx/ir.js';
import { orderWeightOnlyFirst } from '../../onnx/memory-plan.js';
import { upgradeOpset } from '../../onnx/opset.js';
import { specialize } from '../../onnx/specialize.js';
import { DEFAULT_LOSS, emitLoss, type LossSettings } from './loss.js';

export interface TrainGraphDims {
  /** Pairs per step; the graph sees 2B images, sources first. */
  B: number;
  /** Prompts per step (Single 1, Class and CPM one per pair); image i uses prompt prompt_index[i]. */
  P: number;
  /** Keypoint rows per pair (padded). */
  N: number;
  c: number;
  h: number;
  w: number;
  seq: number;
  hidden: number;
  scalingFactor: number;
  timestepShape: number[];
  timestepDtype: string;
  /** 'noisy': z_t is an input; 'moments': z_t = √ᾱ·(μ + σ·ε)·s + √(1-ᾱ)·n is computed in the graph. */
  latents: 'noisy' | 'moments';
  /** Image frame of the keypoints (S x S). */
  frame: { h: number; w: number };
}

export interface TrainGraphOptions {
  loss?: LossSettings;
  rematerialize?: Partial<RematPolicy>;
  attention?: Partial<AttentionRewriteOptions>;
}

export function buildTrainingForward(unetTap: Model, textCut: Model, d: TrainGraphDims, loss: LossSettings = DEFAULT_LOSS): { model: Model; grid: { C: number; h: number; w: number } } {
  const n = 2 * d.B;
  const tsShape = d.timestepShape.map((x) => (x === -1 ? n : x));
  const opset = Math.max(17, defaultOpset(unetTap), defaultOpset(textCut));
  const unet = specialize(upgradeOpset(unetTap, opset), { sample: [n, d.c, d.h, d.w], timestep: tsShape, encoder_hidden_states: [n, d.seq, d.hidden] });
  const text = specialize(upgradeOpset(textCut, opset), { inputs_embeds: [d.P, d.seq, d.hidden] });
  const m = new ModelBuilder('train', opset);
  let zt: string;
  if (d.latents === 'noisy') {
    zt = m.input('noisy_latents', 'float32', [n, d.c, d.h, d.w]);
  } else {
    const moments = m.input('moments', 'float32', [n, 2 * d.c, d.h, d.w]);
    const eps = m.input('eps', 'float32', [n, d.c, d.h, d.w]);
    const noise = m.input('noise', 'float32', [n, d.c, d.h, d.w]);
    const coef = m.input('noise_coefficients', 'float32', [2]);
    const mean = m.op1('Slice', [moments, m.ints([0]), m.ints([d.c]), m.ints([1])]);
    const logvar = m.op1('Slice', [moments, m.ints([d.c]), m.ints([2 * d.c]), m.ints([1])]);
    const std = m.op1('Exp', [m.mul(m.op1('Clip', [logvar, m.scalar(-30, logvar), m.scalar(20, logvar)]), m.scalar(0.5, logvar))]);
    const z = m.mul(m.add(mean, m.mul(std, eps)), m.scalar(d.scalingFactor, mean));
    const signal = m.op1('Slice', [coef, m.ints([0]), m.ints([1]), m.ints([0])]);
    const sigma = m.op1('Slice', [coef, m.ints([1]), m.ints([2]), m.ints([0])]);
    zt = m.add(m.mul(z, signal), m.mul(noise, sigma));
  }
  const tokens = m.input('tokens', 'float32', [d.P, d.seq, d.hidden]);
  const promptIndex = m.input('prompt_index', 'int64', [n]);
  const timestep = m.input('timestep', d.timestepDtype as DType, tsShape);
  const hidden = m.inline(text.model, { inputs_embeds: tokens }, text.info).last_hidden_state;
  const ehs = m.op1('Gather', [hidden, promptIndex], { axis: 0 });
  const f = m.inline(unet.model, { sample: zt, timestep, encoder_hidden_states: ehs }, unet.info).features;
  const [, C, hf, wf] = m.shape(f);
  const src = m.op1('Slice', [f, m.ints([0]), m.ints([d.B]), m.ints([0])]);
  const trg = m.op1('Slice', [f, m.ints([d.B]), m.ints([n]), m.ints([0])]);
  const l = emitLoss(m, src, trg, { B: d.B, N: d.N, C, h: hf, w: wf, h2: hf, w2: wf }, loss);
  m.output('loss', l);
  return { model: m.build(), grid: { C, h: hf, w: wf } };
}

export interface TrainingGraph {
  model: Model;
  /** Output holding d loss / d tokens [P, seq, hidden]. */
  gradName: string;
  grid: { C: number; h: number; w: number };
  /** Shapes of every tensor of `model` (for the memory plan). */
  info: Map<string, { dtype: DType; dims: number[] }>;
}

/** The step graph: loss and d loss / d tokens in one run, memory-efficient attention, and the feature grid. */
export function buildTrainingGraph(unetTap: Model, textCut: Model, d: TrainGraphDims, o: TrainGraphOptions = {}): TrainingGraph {
  const fwd = buildTrainingForward(unetTap, textCut, d, o.loss ?? DEFAULT_LOSS);
  const shapes = Object.fromEntries(fwd.model.graph.inputs.map((i) => [i.name, i.shape as number[]]));
  const vjp = buildVjp(specialize(fwd.model, shapes), { wrt: ['tokens'], output: 'loss', seed: 'ones', rematerialize: o.rematerialize });
  const model = rewriteAttention(vjp.model, vjp.info, { ...attentionOptions(), ...o.attention }).model;
  orderWeightOnlyFirst(model.graph);
  return { model, gradName: vjp.gradOutputs.tokens, grid: fwd.grid, info: vjp.info };
}

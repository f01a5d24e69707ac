/**
 * The training graph of one SD4Match step: UNet features of the source and target images of B
 * pairs (from noisy latents, or sampled in-graph from cached VAE moments), the loss, and the
 * gradient of the loss with respect to the prompt hidden states — one ONNX Runtime run, the
 * backward pass reusing the forward activations. The text encoder's VJP (and CPM's) then carries
 * that gradient to the learnable parameters.
 */
import { buildVjp, type VjpGraph } from '../autodiff/backprop.js';
import { ModelBuilder } from '../onnx/builder.js';
import { defaultOpset, type Model } from '../onnx/ir.js';
import { upgradeOpset } from '../onnx/opset.js';
import { specialize } from '../onnx/specialize.js';
import { DEFAULT_LOSS, emitLoss, type LossSettings } from './loss.js';

export interface TrainGraphDims {
  /** Pairs per step; the graph sees 2B images, sources first. */
  B: number;
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

export function buildTrainingForward(unetTap: Model, d: TrainGraphDims, loss: LossSettings = DEFAULT_LOSS): { model: Model; grid: { C: number; h: number; w: number } } {
  const n = 2 * d.B;
  const tsShape = d.timestepShape.map((x) => (x === -1 ? n : x));
  const unet = upgradeOpset(unetTap, Math.max(17, defaultOpset(unetTap)));
  const spec = specialize(unet, { sample: [n, d.c, d.h, d.w], timestep: tsShape, encoder_hidden_states: [n, d.seq, d.hidden] });
  const m = new ModelBuilder('train', defaultOpset(unet));
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
  const ehs = m.input('encoder_hidden_states', 'float32', [n, d.seq, d.hidden]);
  const timestep = m.input('timestep', d.timestepDtype as 'int64', tsShape);
  const f = m.inline(spec.model, { sample: zt, timestep, encoder_hidden_states: ehs }, spec.info).features;
  const [, C, hf, wf] = m.shape(f);
  const src = m.op1('Slice', [f, m.ints([0]), m.ints([d.B]), m.ints([0])]);
  const trg = m.op1('Slice', [f, m.ints([d.B]), m.ints([n]), m.ints([0])]);
  const l = emitLoss(m, src, trg, { B: d.B, N: d.N, C, h: hf, w: wf, h2: hf, w2: wf }, loss);
  m.output('loss', l);
  return { model: m.build(), grid: { C, h: hf, w: wf } };
}

/** The step graph: loss and d loss / d encoder_hidden_states in one run, and the feature grid. */
export function buildTrainingGraph(unetTap: Model, d: TrainGraphDims, loss: LossSettings = DEFAULT_LOSS): { vjp: VjpGraph; forward: Model; grid: { C: number; h: number; w: number } } {
  const fwd = buildTrainingForward(unetTap, d, loss);
  const shapes = Object.fromEntries(fwd.model.graph.inputs.map((i) => [i.name, i.shape as number[]]));
  const vjp = buildVjp(specialize(fwd.model, shapes), { wrt: ['encoder_hidden_states'], output: 'loss', seed: 'ones' });
  return { vjp, forward: fwd.model, grid: fwd.grid };
}

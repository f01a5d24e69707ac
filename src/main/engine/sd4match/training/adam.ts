/**
 * Adam (PyTorch's formulation, no weight decay) as a small ONNX graph per parameter shape:
 *   m ← β1·m + (1-β1)·g,  v ← β2·v + (1-β2)·g²
 *   p ← p - (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + ε)
 * Learning rate and bias corrections are inputs, so schedules and steps need no new graph.
 */
import { ModelBuilder } from '../../onnx/builder.js';
import type { HostTensor, Model } from '../../onnx/ir.js';
import type { SessionCache } from '../../onnx/session-cache.js';

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface AdamState {
  m: HostTensor;
  v: HostTensor;
}

export function buildAdamGraph(dims: number[], cfg: AdamConfig): Model {
  const b = new ModelBuilder('adam', 17);
  const p = b.input('param', 'float32', dims);
  const g = b.input('grad', 'float32', dims);
  const m = b.input('m', 'float32', dims);
  const v = b.input('v', 'float32', dims);
  // [step_size = lr / (1 - β1^t), √(1 - β2^t)]
  const hyper = b.input('hyper', 'float32', [2]);
  const stepSize = b.op1('Slice', [hyper, b.ints([0]), b.ints([1]), b.ints([0])]);
  const bc2sqrt = b.op1('Slice', [hyper, b.ints([1]), b.ints([2]), b.ints([0])]);
  const m2 = b.add(b.mul(m, b.scalar(cfg.beta1, m)), b.mul(g, b.scalar(1 - cfg.beta1, g)));
  const v2 = b.add(b.mul(v, b.scalar(cfg.beta2, v)), b.mul(b.mul(g, g), b.scalar(1 - cfg.beta2, g)));
  const denom = b.add(b.div(b.op1('Sqrt', [v2]), bc2sqrt), b.scalar(cfg.eps, v2));
  const p2 = b.sub(p, b.mul(stepSize, b.div(m2, denom)));
  b.output('param_out', p2);
  b.output('m_out', m2);
  b.output('v_out', v2);
  return b.build();
}

export function zerosLike(t: HostTensor): HostTensor {
  return { dtype: 'float32', dims: [...t.dims], data: new Float32Array(t.data.length) };
}

/** One Adam step (t counts from 1); returns the new parameter and moments. */
export async function adamStep(
  sessions: SessionCache,
  param: HostTensor,
  grad: HostTensor,
  state: AdamState,
  t: number,
  lr: number,
  cfg: AdamConfig = ADAM_DEFAULTS,
): Promise<{ param: HostTensor; state: AdamState }> {
  const session = await sessions.get(`adam:${param.dims.join('x')}:${cfg.beta1}:${cfg.beta2}:${cfg.eps}`, () => buildAdamGraph(param.dims, cfg));
  const hyper = Float32Array.from([lr / (1 - cfg.beta1 ** t), Math.sqrt(1 - cfg.beta2 ** t)]);
  const out = await session.run({ param, grad, m: state.m, v: state.v, hyper: { dtype: 'float32', dims: [2], data: hyper } });
  return { param: out.param_out, state: { m: out.m_out, v: out.v_out } };
}

/**
 * Adam (PyTorch's formulation, no weight decay) as a small ONNX graph per parameter shape:
 *   m ← β1·m + (1-β1)·g,  v ← β2·v + (1-β2)·g²
 *   p ← p - (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + ε)
 * Learning rate and bias corrections are inputs, so schedules and steps need no new graph.
 *
 * The training loop's optimiser (`AdamOptimizer`) keeps the moments where its sessions run: on
 * WebGPU they stay in device memory from step to step (device-tensors.ts) and come to the host
 * only for a checkpoint; on every other provider they come back to the host each step, as before.
 * The parameter always comes back to the host: the next step builds the prompt tokens from it there.
 */
import { AppError } from '../../../shared/errors.js';
import { ModelBuilder } from '../../onnx/builder.js';
import { createDeviceSession, type DeviceSession, download, isDeviceTensor, release, type RunValue } from '../../onnx/device-tensors.js';
import type { HostTensor, Model } from '../../onnx/ir.js';
import { encodeModel } from '../../onnx/model-io.js';
import type { ProviderChoice, ProviderName } from '../../onnx/runtime.js';
import type { SessionCache } from '../../onnx/session-cache.js';

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** One parameter's moments on the host (checkpoints, a new run's zeros). */
export interface AdamState {
  m: HostTensor;
  v: HostTensor;
}

/** One parameter's moments where the optimiser's session keeps them: on the device on WebGPU, else on the host. */
export interface AdamMoments {
  m: RunValue;
  v: RunValue;
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

/** The graph's [step size, √(1 - β2^t)] input for step t (counting from 1) at rate lr. */
function hyperOf(t: number, lr: number, cfg: AdamConfig): HostTensor {
  return { dtype: 'float32', dims: [2], data: Float32Array.from([lr / (1 - cfg.beta1 ** t), Math.sqrt(1 - cfg.beta2 ** t)]) };
}

/**
 * One Adam step (t counts from 1) through the model's session cache, every tensor on the host;
 * returns the new parameter and moments. (The debug step's single update; training uses `AdamOptimizer`.)
 */
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
  const out = await session.run({ param, grad, m: state.m, v: state.v, hyper: hyperOf(t, lr, cfg) });
  return { param: out.param_out, state: { m: out.m_out, v: out.v_out } };
}

export interface AdamOptimizerOptions {
  /** The providers of the model's sessions (`SdModel.providers`): the moments stay where its graphs run. */
  providers?: ProviderName[] | ProviderChoice;
  config?: AdamConfig;
}

/**
 * Adam over named parameters, holding their moments between steps: on WebGPU in device memory (the
 * Adam graph's m_out and v_out fed back to its next run without a copy), elsewhere on the host,
 * where a step computes exactly what `adamStep` computes. It owns one session per parameter shape
 * and the device memory of the moments: `dispose` frees both.
 */
export class AdamOptimizer {
  private readonly cfg: AdamConfig;
  private readonly sessions = new Map<string, Promise<DeviceSession>>();
  private readonly moments = new Map<string, AdamMoments>();
  private disposed = false;

  /** `initial`: each parameter's moments on the host (zeros for a new run, a checkpoint's on resume). */
  constructor(
    initial: Record<string, AdamState>,
    private readonly options: AdamOptimizerOptions = {},
  ) {
    this.cfg = options.config ?? ADAM_DEFAULTS;
    // host tensors feed any session, WebGPU's included: the first step uploads them
    for (const [k, s] of Object.entries(initial)) this.moments.set(k, { m: s.m, v: s.v });
  }

  /**
   * One Adam step of parameter `name` (t counts from 1) at rate lr: returns the new parameter, on
   * the host; the new moments replace the old ones, whose device memory is freed.
   */
  async step(name: string, param: HostTensor, grad: HostTensor, t: number, lr: number): Promise<HostTensor> {
    if (this.disposed) throw new AppError('INVALID_ARGUMENT', `the Adam optimiser was disposed before the step of parameter '${name}'`);
    const prev = this.moments.get(name);
    if (!prev) throw new AppError('INVALID_ARGUMENT', `the Adam optimiser has no moments for parameter '${name}' (it holds ${[...this.moments.keys()].join(', ') || 'none'})`);
    const session = await this.sessionFor(param.dims);
    const out = await session.run({ param, grad, m: prev.m, v: prev.v, hyper: hyperOf(t, lr, this.cfg) });
    const p = out.param_out;
    if (isDeviceTensor(p)) {
      // not reachable with deviceOutputs naming only the moments; the device memory must not leak if it were
      release(out);
      throw new AppError('RUNTIME_ERROR', `the Adam step of parameter '${name}' returned its parameter on the device, expected on the host`);
    }
    this.moments.set(name, { m: out.m_out, v: out.v_out });
    release(prev.m, prev.v);
    return p;
  }

  /** Parameter `name`'s moments as held now (device tensors on WebGPU after a step): owned by the optimiser. */
  momentsOf(name: string): AdamMoments | undefined {
    return this.moments.get(name);
  }

  /** Every parameter's moments on the host, for a checkpoint (read back from the device where they live there). */
  async hostState(): Promise<Record<string, AdamState>> {
    const out: Record<string, AdamState> = {};
    for (const [k, s] of this.moments) out[k] = { m: await toHost(s.m), v: await toHost(s.v) };
    return out;
  }

  /**
   * Frees the moments' device memory and the sessions. The read-back sessions of device-tensors.ts
   * are left open: they are the process's, shared by whoever reads a device tensor back.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.moments.values()) release(s.m, s.v);
    this.moments.clear();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => null))?.dispose();
  }

  private sessionFor(dims: readonly number[]): Promise<DeviceSession> {
    const key = dims.join('x');
    let s = this.sessions.get(key);
    if (!s) {
      s = createDeviceSession(encodeModel(buildAdamGraph([...dims], this.cfg)), { providers: this.options.providers, deviceOutputs: ['m_out', 'v_out'] });
      this.sessions.set(key, s);
      s.catch(() => {
        if (this.sessions.get(key) === s) this.sessions.delete(key);
      });
    }
    return s;
  }
}

async function toHost(v: RunValue): Promise<HostTensor> {
  return isDeviceTensor(v) ? download(v) : v;
}

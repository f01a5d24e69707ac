/**
 * Tensors that stay in device memory between ONNX Runtime runs. onnxruntime-node 1.30 can keep a
 * session's outputs on the device for one provider only, WebGPU: with `preferredOutputLocation:
 * 'gpu-buffer'` the binding runs the session through an IO binding whose outputs are bound to the
 * WebGPU allocator ('WebGPU_Buf'), and returns each as a tensor of location 'gpu-buffer' holding the
 * native value; such a tensor fed to the next run (of any WebGPU session in the process) is bound
 * in place, without a copy. For every other provider (CPU, CUDA, TensorRT) the binding has no
 * device location: outputs come back to the host (README: GPU providers).
 *
 * What the binding does not do, and this module therefore does for it (each seen on 1.30):
 * - `tensor.getData()` of a 'gpu-buffer' output throws a C++ string from the binding's `download`
 *   ("not implemented"), which terminates the process: a device tensor is read back here by
 *   running it through a one-node Identity session on WebGPU with host outputs (`download`).
 * - A device tensor fed to a CPU session is read as if its device handle were host memory: the
 *   run returns garbage without an error. Feeds to a session not on WebGPU are downloaded first.
 * - The IO binding keeps the outputs of earlier runs bound: fetching a different subset of
 *   outputs fails ("Output count mismatch.") or, after a failed run, labels outputs with each
 *   other's names. Every run here fetches all outputs, in the session's order.
 * - A device tensor is not freed by the garbage collector (its native value has no finalizer):
 *   whoever holds one calls `release` when done with it.
 */
import type ort from 'onnxruntime-node';
import { AppError } from '../../shared/errors.js';
import { ModelBuilder } from './builder.js';
import type { DType } from './dtypes.js';
import type { HostTensor } from './ir.js';
import { encodeModel } from './model-io.js';
import { createSession, fromOrt, type Session, type SessionOptions, toOrt } from './runtime.js';

/** A tensor held in WebGPU device memory by ONNX Runtime (an output of a device session). */
export interface DeviceTensor {
  readonly location: 'device';
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** The binding's tensor ('gpu-buffer'); fed as it is to WebGPU sessions. */
  readonly value: ort.Tensor;
}

/** A run's feed or output: on the host, or on the device. */
export type RunValue = HostTensor | DeviceTensor;

export function isDeviceTensor(v: RunValue): v is DeviceTensor {
  return (v as DeviceTensor).location === 'device';
}

/** A session whose outputs stay on the device where the provider allows it. */
export interface DeviceSession {
  readonly session: Session;
  /** Whether outputs stay on the device: true on WebGPU, false on a provider that returns them to the host. */
  readonly deviceResident: boolean;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs on host or device feeds (device feeds stay owned by the caller). Every output is
   * computed; the session's device outputs stay on the device when `deviceResident`, the others
   * come back on the host.
   */
  run(feeds: Record<string, RunValue>): Promise<Record<string, RunValue>>;
  dispose(): Promise<void>;
}

export interface DeviceSessionOptions extends SessionOptions {
  /**
   * The outputs kept on the device (default: all); the others, e.g. a loss read every run, come
   * back on the host. A name the model does not have is refused by ONNX Runtime with the name.
   */
  deviceOutputs?: string[];
}

/**
 * A session whose outputs stay in device memory between runs where onnxruntime-node allows it
 * (the WebGPU provider), and come back to the host elsewhere.
 */
export async function createDeviceSession(model: string | Uint8Array, options: DeviceSessionOptions = {}): Promise<DeviceSession> {
  const { deviceOutputs, ...rest } = options;
  // a map sends the outputs it does not name to the host (the binding's default location)
  const outputLocation = deviceOutputs ? Object.fromEntries(deviceOutputs.map((n) => [n, 'gpu-buffer' as const])) : ('gpu-buffer' as const);
  const session = await createSession(model, { ...rest, outputLocation });
  const deviceResident = session.provider === 'webgpu';
  const s = session;
  return {
    session: s,
    deviceResident,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) {
        if (!isDeviceTensor(v)) ortFeeds[k] = toOrt(v);
        else if (deviceResident) ortFeeds[k] = liveValue(v, k);
        else ortFeeds[k] = toOrt(await download(v));
      }
      let res: ort.InferenceSession.OnnxValueMapType;
      try {
        // all outputs, always: the binding's IO binding keeps earlier runs' outputs bound
        res = await s.ort.run(ortFeeds);
      } catch (e) {
        throw new AppError('RUNTIME_ERROR', `ONNX Runtime failed to run the graph: ${e instanceof Error ? e.message : String(e)}`, String(e));
      }
      const out: Record<string, RunValue> = {};
      for (const [k, v] of Object.entries(res)) out[k] = wrapOutput(v as ort.Tensor);
      return out;
    },
    dispose: () => s.dispose(),
  };
}

function wrapOutput(t: ort.Tensor): RunValue {
  if (t.location === 'gpu-buffer') return { location: 'device', dtype: t.type as DType, dims: [...t.dims], value: t };
  return fromOrt(t);
}

/** The binding's tensor of a device tensor, refused once it was released. */
function liveValue(t: DeviceTensor, name: string): ort.Tensor {
  if (t.value.location !== 'gpu-buffer') throw new AppError('INVALID_ARGUMENT', `the device tensor fed as '${name}' was released before the run`);
  return t.value;
}

/** Frees the device memory of the device tensors among `values` (host tensors are left alone). */
export function release(...values: (RunValue | Record<string, RunValue> | undefined)[]): void {
  for (const v of values) {
    if (!v) continue;
    if (isRunValue(v)) {
      if (isDeviceTensor(v) && v.value.location === 'gpu-buffer') v.value.dispose();
    } else {
      release(...Object.values(v));
    }
  }
}

function isRunValue(v: RunValue | Record<string, RunValue>): v is RunValue {
  return Array.isArray((v as RunValue).dims);
}

/** One Identity session per dtype and shape: WebGPU in, host out. */
const copiers = new Map<string, Promise<Session>>();

/**
 * Copies a device tensor to the host. (The binding's own `getData()` of a device tensor ends the
 * process; see the top of this file.)
 */
export async function download(t: DeviceTensor): Promise<HostTensor> {
  const key = `${t.dtype}:${t.dims.join('x')}`;
  let copier = copiers.get(key);
  if (!copier) {
    const b = new ModelBuilder('download', 14);
    b.output('y', b.op1('Identity', [b.input('x', t.dtype, [...t.dims])]));
    copier = createSession(encodeModel(b.build()), { providers: ['webgpu'], lean: false });
    copiers.set(key, copier);
    copier.catch(() => copiers.delete(key));
  }
  const s = await copier;
  if (s.provider !== 'webgpu')
    throw new AppError(
      'RUNTIME_ERROR',
      `a device tensor cannot be read back: the WebGPU provider did not open (${s.attempts
        .map((a) => a.reason)
        .filter(Boolean)
        .join('; ')})`,
    );
  const out = await s.ort.run({ x: liveValue(t, 'x') });
  return fromOrt(out.y as ort.Tensor);
}

/** Closes the read-back sessions (tests, shutdown). */
export async function closeDownloads(): Promise<void> {
  const all = [...copiers.values()];
  copiers.clear();
  for (const c of all) await (await c.catch(() => null))?.dispose();
}

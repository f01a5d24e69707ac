/**
 * Device-resident tensors on the WebGPU provider (device-tensors.ts), on a real software Vulkan
 * driver (lavapipe): the training loop's Adam graph run for several steps with its parameter and
 * moments kept on the device, fed back run after run, gives bit for bit what the host round trip
 * gives; outputs named for the host come back there; a device tensor fed to a CPU session is read
 * back first (onnxruntime-node would read its device handle as host memory); a released one is
 * refused; on the CPU provider everything comes back to the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDownloads, createDeviceSession, type DeviceSession, download, isDeviceTensor, release, type RunValue } from '../../src/main/engine/onnx/device-tensors.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { encodeModel } from '../../src/main/engine/onnx/model-io.js';
import { createSession } from '../../src/main/engine/onnx/runtime.js';
import { ADAM_DEFAULTS, buildAdamGraph } from '../../src/main/engine/sd4match/training/adam.js';
import { softwareVulkan, softwareVulkanMissing } from '../helpers/vulkan.js';

const vulkan = softwareVulkan();
const missing = softwareVulkanMissing(vulkan);
if (missing) process.stderr.write(`device-tensors: skipped: ${missing}\n`);

const DIMS = [3, 5];
const adam = encodeModel(buildAdamGraph(DIMS, ADAM_DEFAULTS));

function f32(data: number[] | Float32Array, dims = DIMS): HostTensor {
  return { dtype: 'float32', dims, data: Float32Array.from(data) };
}

/** Deterministic gradients for step t. */
function grad(t: number): HostTensor {
  return f32(Array.from({ length: 15 }, (_, i) => Math.sin(0.7 * i + t) * (1 + i / 10)));
}

function hyper(t: number, lr = 0.01): HostTensor {
  return f32([lr / (1 - ADAM_DEFAULTS.beta1 ** t), Math.sqrt(1 - ADAM_DEFAULTS.beta2 ** t)], [2]);
}

const START = f32(Array.from({ length: 15 }, (_, i) => i / 7 - 1));
const ZERO = f32(new Float32Array(15));

function host(v: RunValue): HostTensor {
  expect(isDeviceTensor(v)).toBe(false);
  return v as HostTensor;
}

describe.skipIf(missing !== null)('tensors kept on the WebGPU device between runs (lavapipe)', () => {
  let onDevice: DeviceSession;

  beforeAll(async () => {
    // Dawn reads the Vulkan driver's location when the first WebGPU session opens
    Object.assign(process.env, vulkan, { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '' });
    onDevice = await createDeviceSession(adam, { providers: ['webgpu'] });
  });
  afterAll(async () => {
    await onDevice?.dispose();
    await closeDownloads();
  });

  it('opens on WebGPU with every output on the device', async () => {
    expect(onDevice.session.provider).toBe('webgpu');
    expect(onDevice.deviceResident).toBe(true);
    const out = await onDevice.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) });
    for (const name of ['param_out', 'm_out', 'v_out']) {
      expect(isDeviceTensor(out[name])).toBe(true);
      expect((out[name] as { value: { location: string } }).value.location).toBe('gpu-buffer');
      expect(out[name].dims).toEqual(DIMS);
    }
    release(out);
  });

  it('five Adam steps with parameter and moments fed back on the device equal the host round trip bit for bit', async () => {
    const viaHost = await createSession(adam, { providers: ['webgpu'] });
    expect(viaHost.provider).toBe('webgpu');
    let p = START;
    let m = ZERO;
    let v = ZERO;
    for (let t = 1; t <= 5; t++) {
      const r = await viaHost.run({ param: p, grad: grad(t), m, v, hyper: hyper(t) });
      [p, m, v] = [r.param_out, r.m_out, r.v_out];
    }
    await viaHost.dispose();

    let state: Record<string, RunValue> = { param_out: START, m_out: ZERO, v_out: ZERO };
    for (let t = 1; t <= 5; t++) {
      const next = await onDevice.run({ param: state.param_out, grad: grad(t), m: state.m_out, v: state.v_out, hyper: hyper(t) });
      release(state);
      state = next;
      expect(Object.values(state).every(isDeviceTensor)).toBe(true);
    }
    const [dp, dm, dv] = await Promise.all(['param_out', 'm_out', 'v_out'].map((k) => download(state[k] as never)));
    release(state);
    expect(dp.data).toEqual(p.data);
    expect(dm.data).toEqual(m.data);
    expect(dv.data).toEqual(v.data);
    // and it moved: the parameter is not where it started
    expect(dp.data).not.toEqual(START.data);
  });

  it('outputs left out of deviceOutputs come back on the host, in the same run', async () => {
    const s = await createDeviceSession(adam, { providers: ['webgpu'], deviceOutputs: ['m_out', 'v_out'] });
    const out = await s.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) });
    expect(isDeviceTensor(out.m_out) && isDeviceTensor(out.v_out)).toBe(true);
    const p = host(out.param_out);
    const check = await createSession(adam, { providers: ['webgpu'] });
    expect(p.data).toEqual((await check.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) })).param_out.data);
    await check.dispose();
    release(out);
    await s.dispose();
  });

  it('a device tensor fed to a CPU session is read back first (not read as host memory)', async () => {
    const out = await onDevice.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) });
    const onCpu = await createDeviceSession(adam, { providers: ['cpu'] });
    expect(onCpu.deviceResident).toBe(false);
    const expected = await download(out.param_out as never);
    const r = await onCpu.run({ param: out.param_out, grad: ZERO, m: ZERO, v: f32(new Float32Array(15).fill(1)), hyper: f32([0, 1], [2]) });
    // a zero step size returns the parameter it was given
    expect(host(r.param_out).data).toEqual(expected.data);
    release(out);
    await onCpu.dispose();
  });

  it('a released device tensor is refused with its feed name', async () => {
    const out = await onDevice.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) });
    release(out);
    await expect(onDevice.run({ param: out.param_out, grad: grad(2), m: ZERO, v: ZERO, hyper: hyper(2) })).rejects.toThrow("the device tensor fed as 'param' was released before the run");
  });
});

describe('device sessions on the CPU provider', () => {
  it('return every output on the host (onnxruntime-node has no device location there)', async () => {
    const s = await createDeviceSession(adam, { providers: ['cpu'] });
    expect(s.session.provider).toBe('cpu');
    expect(s.deviceResident).toBe(false);
    const out = await s.run({ param: START, grad: grad(1), m: ZERO, v: ZERO, hyper: hyper(1) });
    for (const v of Object.values(out)) expect(isDeviceTensor(v)).toBe(false);
    await s.dispose();
  });
});

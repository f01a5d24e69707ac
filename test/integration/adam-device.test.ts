/**
 * The training loop's Adam optimiser (adam.ts `AdamOptimizer`) keeps its moments where the model's
 * sessions run. On the CPU they are host tensors and every step is bit for bit what the host round
 * trip computed before (the Adam graph run on host feeds), within 1e-6 of Adam's closed form in
 * float64. On WebGPU (a real adapter or Mesa's lavapipe; skipped with one line where there is none)
 * they stay in device memory between steps, the previous step's are freed, and parameters and
 * moments match the CPU's within 1e-6; a checkpoint written mid-run holds the moments read back from
 * the device, both from the optimiser and from a real training run (tiny SD fixture, 64 px).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import { silentTask } from '../../src/main/engine/jobs/progress.js';
import { readSafetensors } from '../../src/main/engine/io/safetensors.js';
import { closeDownloads, type DeviceTensor, download, isDeviceTensor, type RunValue } from '../../src/main/engine/onnx/device-tensors.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { createModelSession, type ProviderChoice, type ProviderName } from '../../src/main/engine/onnx/runtime.js';
import { Rng } from '../../src/main/engine/sd4match/features/random.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { ADAM_DEFAULTS, AdamOptimizer, type AdamState, buildAdamGraph, zerosLike } from '../../src/main/engine/sd4match/training/adam.js';
import { TRAIN_DEFAULTS } from '../../src/main/engine/sd4match/training/train-config.js';
import { Trainer } from '../../src/main/engine/sd4match/training/trainer.js';
import { firstOrder } from '../../src/main/engine/sd4match/training/training-batch.js';
import { readCheckpoint, writeCheckpoint } from '../../src/main/engine/sd4match/training/training-checkpoint.js';
import { HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { writeShiftedPairs } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const NO_WEBGPU = await webgpuUnavailable();

/** Two parameters of different shapes, the second at a tenth of the rate (as CPM's linear layers). */
const PARAMS: Record<string, { dims: number[]; lr: number }> = { prompt: { dims: [3, 5], lr: 1e-2 }, linear: { dims: [4], lr: 1e-3 } };
const STEPS = 5;
/** The step after which the checkpoints are written. */
const MID = 3;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-adam-device-'));
});
afterAll(async () => {
  await closeDownloads();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function f32(dims: number[], data: ArrayLike<number>): HostTensor {
  return { dtype: 'float32', dims, data: Float32Array.from(data) };
}

function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function start(name: string): HostTensor {
  const { dims } = PARAMS[name];
  return f32(
    dims,
    Array.from({ length: size(dims) }, (_, i) => i / 7 - 1 + name.length / 10),
  );
}

/** Deterministic gradients of parameter `name` at step t, signs changing from step to step. */
function grad(name: string, t: number): HostTensor {
  const { dims } = PARAMS[name];
  return f32(
    dims,
    Array.from({ length: size(dims) }, (_, i) => Math.sin(0.7 * i + t + name.length) * (1 + i / 10)),
  );
}

function zeroState(): Record<string, AdamState> {
  return Object.fromEntries(Object.keys(PARAMS).map((k) => [k, { m: zerosLike(start(k)), v: zerosLike(start(k)) }]));
}

/** Adam's closed form in float64 (PyTorch's formulation), `steps` steps from `start`. */
function closedForm(name: string, steps: number): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const { beta1, beta2, eps } = ADAM_DEFAULTS;
  const p = Float64Array.from(start(name).data as Float32Array);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  for (let t = 1; t <= steps; t++) {
    const g = grad(name, t).data as Float32Array;
    for (let i = 0; i < p.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      p[i] -= (PARAMS[name].lr / (1 - beta1 ** t)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - beta2 ** t) + eps));
    }
  }
  return { p, m, v };
}

/**
 * The training loop's Adam before the optimiser kept its moments: the same graph on the CPU, run
 * on host parameter, gradient and moments each step (adam.ts `adamStep` as it was, its session
 * pinned to the CPU).
 */
async function hostRoundTrip(steps: number): Promise<Record<string, { p: HostTensor; m: HostTensor; v: HostTensor }>> {
  const out: Record<string, { p: HostTensor; m: HostTensor; v: HostTensor }> = {};
  for (const [k, { dims, lr }] of Object.entries(PARAMS)) {
    const s = await createModelSession(buildAdamGraph(dims, ADAM_DEFAULTS), { providers: ['cpu'] });
    let p = start(k);
    let m = zerosLike(p);
    let v = zerosLike(p);
    for (let t = 1; t <= steps; t++) {
      const hyper = f32([2], [lr / (1 - ADAM_DEFAULTS.beta1 ** t), Math.sqrt(1 - ADAM_DEFAULTS.beta2 ** t)]);
      const r = await s.run({ param: p, grad: grad(k, t), m, v, hyper });
      [p, m, v] = [r.param_out, r.m_out, r.v_out];
    }
    await s.dispose();
    out[k] = { p, m, v };
  }
  return out;
}

/** Runs the optimiser `STEPS` steps on `providers`; writes a checkpoint after step `MID`. */
async function optimise(providers: ProviderName[] | ProviderChoice, checkpoint: string, onStep?: (o: AdamOptimizer, t: number) => void | Promise<void>) {
  const o = new AdamOptimizer(zeroState(), { providers });
  const params = Object.fromEntries(Object.keys(PARAMS).map((k) => [k, start(k)]));
  try {
    for (let t = 1; t <= STEPS; t++) {
      for (const [k, { lr }] of Object.entries(PARAMS)) params[k] = await o.step(k, params[k], grad(k, t), t, lr);
      await onStep?.(o, t);
      if (t === MID) {
        const rng = new Rng(0);
        writeCheckpoint(checkpoint, { step: t, params, adam: await o.hostState(), rng: rng.state(), order: firstOrder(rng, 4), bestPck: null, best: null, bestStep: null }, rng.state(), OWNER);
      }
    }
    return { params, moments: await o.hostState() };
  } finally {
    await o.dispose();
  }
}

const OWNER = { config: TRAIN_DEFAULTS, modelHash: 'adam-device-test' };

describe('Adam on the CPU provider', () => {
  it('keeps the moments on the host and computes bit for bit what the host round trip computed, within 1e-6 of the closed form', async () => {
    const file = path.join(tmp, 'cpu-opt.safetensors');
    const r = await optimise(['cpu'], file, (o) => {
      for (const k of Object.keys(PARAMS)) {
        const s = o.momentsOf(k)!;
        expect(isDeviceTensor(s.m) || isDeviceTensor(s.v)).toBe(false);
      }
    });
    const before = await hostRoundTrip(STEPS);
    for (const k of Object.keys(PARAMS)) {
      expect(r.params[k].data).toEqual(before[k].p.data);
      expect(r.moments[k].m.data).toEqual(before[k].m.data);
      expect(r.moments[k].v.data).toEqual(before[k].v.data);
      const exact = closedForm(k, STEPS);
      const { dims } = PARAMS[k];
      expect(relErr(r.params[k], { dtype: 'float64', dims, data: exact.p })).toBeLessThan(1e-6);
      expect(relErr(r.moments[k].m, { dtype: 'float64', dims, data: exact.m })).toBeLessThan(1e-6);
      expect(relErr(r.moments[k].v, { dtype: 'float64', dims, data: exact.v })).toBeLessThan(1e-6);
    }
    // the mid-run checkpoint holds the moments of step MID
    const ck = readCheckpoint(file, OWNER, Object.keys(PARAMS));
    const mid = await hostRoundTrip(MID);
    for (const k of Object.keys(PARAMS)) {
      expect(ck.adam[k].m.data).toEqual(mid[k].m.data);
      expect(ck.adam[k].v.data).toEqual(mid[k].v.data);
    }
  });

  it('refuses a step after dispose and a parameter it holds no moments for, naming it', async () => {
    const o = new AdamOptimizer(zeroState(), { providers: ['cpu'] });
    await expect(o.step('nope', start('prompt'), grad('prompt', 1), 1, 1e-2)).rejects.toThrow("no moments for parameter 'nope' (it holds prompt, linear)");
    await o.dispose();
    await expect(o.step('prompt', start('prompt'), grad('prompt', 1), 1, 1e-2)).rejects.toThrow("disposed before the step of parameter 'prompt'");
  });
});

describe.skipIf(!!NO_WEBGPU)('Adam on the WebGPU provider', () => {
  it('keeps the moments on the device, frees the previous ones, and matches the CPU within 1e-6 (checkpoint included)', async () => {
    const cpuFile = path.join(tmp, 'cpu-opt-2.safetensors');
    const gpuFile = path.join(tmp, 'webgpu-opt.safetensors');
    const cpu = await optimise(['cpu'], cpuFile);
    let previous: RunValue[] = [];
    let last: RunValue[] = [];
    const gpu = await optimise('webgpu', gpuFile, (o) => {
      // the moments fed to this step were freed once it gave new ones
      for (const v of previous) expect((v as DeviceTensor).value.location).not.toBe('gpu-buffer');
      previous = Object.keys(PARAMS).flatMap((k) => [o.momentsOf(k)!.m, o.momentsOf(k)!.v]);
      for (const v of previous) {
        expect(isDeviceTensor(v)).toBe(true);
        expect((v as DeviceTensor).value.location).toBe('gpu-buffer');
      }
      last = previous;
    });
    // dispose freed the last ones
    for (const v of last) expect((v as DeviceTensor).value.location).not.toBe('gpu-buffer');
    for (const k of Object.keys(PARAMS)) {
      expect(isDeviceTensor(gpu.params[k])).toBe(false);
      expect(relErr(gpu.params[k], cpu.params[k])).toBeLessThan(1e-6);
      expect(relErr(gpu.moments[k].m, cpu.moments[k].m)).toBeLessThan(1e-6);
      expect(relErr(gpu.moments[k].v, cpu.moments[k].v)).toBeLessThan(1e-6);
    }
    const [a, b] = [readCheckpoint(cpuFile, OWNER, Object.keys(PARAMS)), readCheckpoint(gpuFile, OWNER, Object.keys(PARAMS))];
    for (const k of Object.keys(PARAMS)) {
      expect(Math.max(...(a.adam[k].v.data as Float32Array))).toBeGreaterThan(0);
      expect(relErr(b.adam[k].m, a.adam[k].m)).toBeLessThan(1e-6);
      expect(relErr(b.adam[k].v, a.adam[k].v)).toBeLessThan(1e-6);
      expect(relErr(b.params[k], a.params[k])).toBeLessThan(1e-6);
    }
  });

  it('resumes from host moments (a checkpoint) on the device', async () => {
    const ck = readCheckpoint(path.join(tmp, 'cpu-opt-2.safetensors'), OWNER, Object.keys(PARAMS));
    const [onCpu, onGpu] = [new AdamOptimizer(ck.adam, { providers: ['cpu'] }), new AdamOptimizer(ck.adam, { providers: 'webgpu' })];
    try {
      for (const k of Object.keys(PARAMS)) {
        const p = ck.params[k];
        const [x, y] = [await onCpu.step(k, p, grad(k, MID + 1), MID + 1, PARAMS[k].lr), await onGpu.step(k, p, grad(k, MID + 1), MID + 1, PARAMS[k].lr)];
        expect(relErr(y, x)).toBeLessThan(1e-6);
        expect(isDeviceTensor(onGpu.momentsOf(k)!.m)).toBe(true);
        expect(relErr(await download(onGpu.momentsOf(k)!.v as DeviceTensor), onCpu.momentsOf(k)!.v as HostTensor)).toBeLessThan(1e-6);
      }
    } finally {
      await onCpu.dispose();
      await onGpu.dispose();
    }
  });
});

/**
 * A training run's mid-run checkpoint holds the moments the optimiser kept on the device: the
 * same run on the CPU and on WebGPU (the step graph's providers differ slightly: the moments agree
 * to the gradients' tolerance, and are not the zeros the run started from; measured on lavapipe:
 * 1.2e-4 for m, 1.6e-4 for v).
 */
const TRAIN_MOMENTS_TOLERANCE = 1e-3;

describe.skipIf(!HAVE_FIXTURES || !!NO_WEBGPU)('a training run on WebGPU checkpoints the moments it keeps on the device', () => {
  let sdDir: string;
  let pairs: Awaited<ReturnType<typeof writeShiftedPairs>>;
  beforeAll(async () => {
    sdDir = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd'));
    pairs = await writeShiftedPairs(path.join(tmp, 'pairs'), 4, { size: 64 });
  }, 120_000);

  /** Trains 3 steps on `provider` with a checkpoint every 2; the checkpoint of step 2. */
  async function train(provider: 'cpu' | 'webgpu'): Promise<Record<string, HostTensor>> {
    const sd = SdModel.open(sdDir, { cacheDir: path.join(tmp, 'cache'), providers: provider });
    const ref = (f: string) => ({ file: f, key: `${f}:64`, width: 64, height: 64 });
    const data = pairs.map((p, i) => ({ id: i, category: p.category, src: ref(p.src), trg: ref(p.trg), srcKps: p.srcKps, trgKps: p.trgKps, trgBbox: null }));
    const runDir = path.join(tmp, `run-${provider}`);
    const kept = path.join(tmp, `checkpoint-${provider}-2.safetensors`);
    try {
      const t = new Trainer(
        sd,
        null,
        { train: data, val: [], benchmark: 'generic', dataset: 'shift' },
        { ...TRAIN_DEFAULTS, steps: 3, batch: 2, size: 64, valEvery: 0, checkpointEvery: 2, seed: 7 },
        {
          runDir,
          runId: provider,
          cache: new TensorCache(path.join(tmp, `tensors-${provider}`)),
          task: silentTask(),
          hooks: {
            onCheckpoint: (c) => {
              if (c.step === 2) fs.copyFileSync(c.file, kept);
            },
          },
        },
      );
      await t.prepare(false);
      await t.run(path.join(runDir, 'prompt.safetensors'));
      expect(await sd.provider()).toBe(provider);
    } finally {
      await sd.dispose();
    }
    return readSafetensors(kept).tensors;
  }

  it(`holds the moments of step 2, within ${TRAIN_MOMENTS_TOLERANCE} of the CPU run's`, async () => {
    const cpu = await train('cpu');
    const gpu = await train('webgpu');
    const names = Object.keys(cpu).filter((k) => k.startsWith('adam_'));
    expect(names.length).toBeGreaterThan(0);
    for (const k of names) {
      expect(Math.max(...Array.from(cpu[k].data as Float32Array, Math.abs))).toBeGreaterThan(0);
      expect(relErr(gpu[k], cpu[k]), k).toBeLessThan(TRAIN_MOMENTS_TOLERANCE);
    }
  }, 300_000);
});

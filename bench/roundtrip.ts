/**
 * Host round trip per step on the WebGPU provider: the tensors the training loop and feature
 * extraction move between the host and ONNX Runtime each step (SD 2-1, 768 px, batch 1, the
 * Single prompt: shapes from the training code), their bytes, and the time to copy each to the
 * device (ort.Tensor creation + binding as a session input) and back (a session output returned to
 * the host), measured on this machine's WebGPU adapter with tensors of the same sizes.
 *
 * How: two one-node Identity sessions per size on WebGPU, one returning its output to the host and
 * one keeping it on the device (onnx/device-tensors.ts); upload = host in, device out minus device
 * in, device out; download = device in, host out minus device in, device out (the kernel, the
 * same in each, cancels). Every tensor is copied as float32 of its byte count (the copy does not
 * look at the element type). On a software adapter (Mesa's lavapipe) device memory is host memory:
 * the times are those of host memcpy and Dawn's staging, a lower bound for a discrete GPU's bus.
 *
 *   npm run bench -- roundtrip [--keypoints 20] [--repeats 15]
 */
import ort from 'onnxruntime-node';
import { ModelBuilder } from '../src/main/engine/onnx/builder.js';
import { createDeviceSession, type DeviceSession, release } from '../src/main/engine/onnx/device-tensors.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { probeProvider, toOrt } from '../src/main/engine/onnx/runtime.js';
import { flag, median, printTable } from './table.js';

export const description = 'host <-> WebGPU round trip per training step and per image (SD 2-1, 768 px): bytes and copy time of each tensor';

/** One tensor moved per step: which graph, which way, its dtype and shape. */
interface Transfer {
  graph: string;
  tensor: string;
  dir: 'in' | 'out';
  shape: string;
  bytes: number;
  /** Why it crosses the host, or what would keep it on the device. */
  note: string;
}

/** SD 2-1 at 768 px: latent 4 x 96 x 96, text width 1024, 77 tokens, features [1280, 48, 48]. */
const SD21 = { c: 4, lat: 96, hidden: 1024, seq: 77, C: 1280, grid: 48, px: 768 };
/** Single's learnable rows (train-config.ts) and the loss's 7 x 7 window (loss.ts). */
const N_LEARNABLE = 75;
const K2 = 49;

/** What one training step (batch 1, accumulate 1, Single prompt) moves, from trainer.ts, training-batch.ts, loss.ts and adam.ts. */
function trainingStep(N: number): Transfer[] {
  const { c, lat, hidden, seq } = SD21;
  const n = 2; // source and target image
  const B = 1;
  const row = [1, N_LEARNABLE, hidden];
  return [
    { graph: 'step', tensor: 'moments', dir: 'in', ...f32([n, 2 * c, lat, lat]), note: 'VAE moments from the disk cache' },
    { graph: 'step', tensor: 'eps', dir: 'in', ...f32([n, c, lat, lat]), note: "drawn by the run's seeded generator on the host" },
    { graph: 'step', tensor: 'noise', dir: 'in', ...f32([n, c, lat, lat]), note: "drawn by the run's seeded generator on the host" },
    { graph: 'step', tensor: 'tokens', dir: 'in', ...f32([1, seq, hidden]), note: 'prompt rows assembled on the host from the parameter' },
    // src_index, src_weight [B, N, 4]; prob_index, prob_weight [B, N, 49, 4]; loss_weight [B, N, 49] (int64 indices)
    {
      graph: 'step',
      tensor: 'loss plans (5 tensors)',
      dir: 'in',
      shape: `[${B}, ${N}, 49, 4] and smaller`,
      bytes: B * N * (4 * 8 + 4 * 4 + K2 * 4 * 8 + K2 * 4 * 4 + K2 * 4),
      note: 'keypoint sampling plans, made on the host',
    },
    { graph: 'step', tensor: 'timestep, prompt_index, noise_coefficients', dir: 'in', shape: '[] i64, [2] i64, [2] f32', bytes: 8 + 16 + 8, note: 'scalars' },
    { graph: 'step', tensor: 'loss', dir: 'out', ...f32([1]), note: 'read every step (progress, NaN check)' },
    { graph: 'step', tensor: 'grad tokens', dir: 'out', ...f32([1, seq, hidden]), note: 'rows sliced on the host for Adam' },
    { graph: 'adam', tensor: 'param', dir: 'in', ...f32(row), note: 'also needed on the host for the next tokens' },
    { graph: 'adam', tensor: 'grad', dir: 'in', ...f32(row), note: 'from the step graph via the host' },
    { graph: 'adam', tensor: 'm, v', dir: 'in', ...f32([2, ...row]), note: 'can stay on the device: they do on WebGPU (AdamOptimizer, adam.ts)' },
    { graph: 'adam', tensor: 'param_out', dir: 'out', ...f32(row), note: 'needed on the host for the next tokens' },
    { graph: 'adam', tensor: 'm_out, v_out', dir: 'out', ...f32([2, ...row]), note: 'can stay on the device: they do on WebGPU (AdamOptimizer, adam.ts)' },
  ];
}

/** What extracting one image's features moves (ensemble K = 1), from features/pipeline.ts. */
function featureImage(): Transfer[] {
  const { c, lat, hidden, seq, C, grid, px } = SD21;
  return [
    { graph: 'vae', tensor: 'pixels', dir: 'in', ...f32([1, 3, px, px]), note: 'decoded image' },
    { graph: 'vae', tensor: 'moments', dir: 'out', ...f32([1, 2 * c, lat, lat]), note: 'cached on disk' },
    { graph: 'features', tensor: 'moments', dir: 'in', ...f32([1, 2 * c, lat, lat]), note: 'could stay on the device after the VAE (cache miss)' },
    { graph: 'features', tensor: 'eps, noise', dir: 'in', ...f32([2, c, lat, lat]), note: "drawn from the image's seed on the host" },
    { graph: 'features', tensor: 'encoder_hidden_states', dir: 'in', ...f32([1, seq, hidden]), note: "the text encoder's output, the same for every image: could stay on the device" },
    { graph: 'features', tensor: 'features', dir: 'out', ...f32([1, C, grid, grid]), note: 'cached on disk, matched on the host' },
  ];
}

/** A float32 tensor's shape and bytes. */
function f32(dims: number[]): { shape: string; bytes: number } {
  return { shape: `[${dims.join(', ')}] f32`, bytes: 4 * dims.reduce((a, b) => a * b, 1) };
}

/** The three ways of running an Identity over `elements` floats, each timed. */
class CopyProbe {
  private constructor(
    private readonly toHost: DeviceSession,
    private readonly onDevice: DeviceSession,
    private readonly host: { dtype: 'float32'; dims: number[]; data: Float32Array },
  ) {}

  static async open(elements: number): Promise<CopyProbe> {
    const b = new ModelBuilder('copy', 14);
    b.output('y', b.op1('Identity', [b.input('x', 'float32', [elements])]));
    const bytes = encodeModel(b.build());
    const toHost = await createDeviceSession(bytes, { providers: ['webgpu'], deviceOutputs: [], lean: false });
    const onDevice = await createDeviceSession(bytes, { providers: ['webgpu'], lean: false });
    if (!onDevice.deviceResident) {
      const why = onDevice.session.attempts.map((a) => `${a.provider}: ${a.reason ?? 'ok'}`).join('; ');
      await Promise.all([toHost.dispose(), onDevice.dispose()]);
      throw new Error(`the WebGPU provider did not open here (${why}); this bench measures copies to and from a WebGPU device`);
    }
    const data = new Float32Array(elements);
    for (let i = 0; i < elements; i++) data[i] = (i % 251) / 251;
    return new CopyProbe(toHost, onDevice, { dtype: 'float32', dims: [elements], data });
  }

  /** Median milliseconds of upload and download over `repeats` (after one warm-up). */
  async measure(repeats: number): Promise<{ up: number; down: number }> {
    const resident = (await this.onDevice.run({ x: this.host })).y;
    const times = { hostIn: [] as number[], deviceIn: [] as number[], hostOut: [] as number[] };
    for (let r = -1; r < repeats; r++) {
      let t0 = performance.now();
      // the tensor creation is part of an upload: a host tensor becomes an ort.Tensor every run
      new ort.Tensor('float32', this.host.data, this.host.dims);
      toOrt(this.host);
      const a = await this.onDevice.run({ x: this.host });
      const hostIn = performance.now() - t0;
      t0 = performance.now();
      const b = await this.onDevice.run({ x: resident });
      const deviceIn = performance.now() - t0;
      t0 = performance.now();
      await this.toHost.run({ x: resident });
      const hostOut = performance.now() - t0;
      release(a, b);
      if (r >= 0) {
        times.hostIn.push(hostIn);
        times.deviceIn.push(deviceIn);
        times.hostOut.push(hostOut);
      }
    }
    release(resident);
    const base = median(times.deviceIn);
    return { up: Math.max(0, median(times.hostIn) - base), down: Math.max(0, median(times.hostOut) - base) };
  }

  async close(): Promise<void> {
    await Promise.all([this.toHost.dispose(), this.onDevice.dispose()]);
  }
}

export async function run(args: string[]): Promise<void> {
  const N = Number(flag(args, '--keypoints') ?? 20);
  const repeats = Number(flag(args, '--repeats') ?? 15);
  const status = await probeProvider('webgpu');
  const adapter = status.adapter ? `${status.adapter.name}${status.adapter.software ? ' (software adapter: copies are host memcpy)' : ''}` : 'adapter unknown';
  process.stdout.write(`WebGPU adapter: ${adapter}; onnxruntime-node ${ort.env.versions.node ?? ''}\n`);
  const probes = new Map<number, CopyProbe>();
  const timed = new Map<number, { up: number; down: number }>();
  const sections: [string, Transfer[]][] = [
    [`Training step, SD 2-1, 768 px, batch 1, Single prompt, ${N} keypoint rows`, trainingStep(N)],
    ['Feature extraction, one image, ensemble 1 (VAE encode + UNet to up_blocks.1)', featureImage()],
  ];
  try {
    for (const [title, list] of sections) {
      const rows: (string | number)[][] = [];
      let total = { bytes: 0, ms: 0 };
      let movable = { bytes: 0, ms: 0 };
      for (const t of list) {
        const bytes = t.bytes;
        const elements = Math.max(1, Math.ceil(bytes / 4));
        if (!timed.has(elements)) {
          let p = probes.get(elements);
          if (!p) {
            p = await CopyProbe.open(elements);
            probes.set(elements, p);
          }
          timed.set(elements, await p.measure(repeats));
          await p.close();
          probes.delete(elements);
        }
        const m = timed.get(elements)!;
        const ms = t.dir === 'in' ? m.up : m.down;
        total = { bytes: total.bytes + bytes, ms: total.ms + ms };
        if (/can stay|could stay/.test(t.note)) movable = { bytes: movable.bytes + bytes, ms: movable.ms + ms };
        rows.push([t.graph, t.tensor, t.dir === 'in' ? 'host -> device' : 'device -> host', t.shape, bytes, ms, t.note]);
      }
      rows.push(['total', '', '', '', total.bytes, total.ms, `of which ${movable.bytes} bytes, ${movable.ms.toFixed(2)} ms could stay on the device`]);
      printTable(title, ['graph', 'tensor', 'copy', 'shape', 'bytes', 'ms per step', 'why it crosses the host'], rows);
    }
  } finally {
    for (const p of probes.values()) await p.close();
  }
}

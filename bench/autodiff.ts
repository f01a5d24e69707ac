/**
 * Autodiff benchmark on the UNet feature tap: graph build time (tap, specialisation, VJP
 * construction), forward run, VJP run (forward + backward in one graph), their ratio, peak RSS.
 * Default model: the tiny fixture UNet; `--model FILE` runs a full-size export (e.g. SD 2-1).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVjp } from '../src/main/engine/autodiff/backprop.js';
import { allocTypedArray } from '../src/main/engine/onnx/dtypes.js';
import { type HostTensor, numel } from '../src/main/engine/onnx/ir.js';
import { loadModel } from '../src/main/engine/onnx/model-io.js';
import { createModelSession } from '../src/main/engine/onnx/runtime.js';
import { specialize } from '../src/main/engine/onnx/specialize.js';
import { tap } from '../src/main/engine/onnx/transforms.js';
import { flag, mib, PeakRss, printTable, timeRuns } from './table.js';

export const description = 'UNet up_blocks.1 tap: build time, forward vs VJP run, VJP/forward ratio, peak RSS';

function randomTensor(dims: number[], seed: number): HostTensor {
  const data = allocTypedArray('float32', numel(dims)) as Float32Array;
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return { dtype: 'float32', dims, data };
}

export async function run(args: string[]): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modelFile = flag(args, '--model') ?? path.resolve(here, '../test/fixtures/tiny/models/sd/unet/model.onnx');
  if (!fs.existsSync(modelFile)) throw new Error(`${modelFile} not found (pass --model FILE)`);
  const latent = Number(flag(args, '--latent') ?? (flag(args, '--model') ? 96 : 32));
  const repeats = Number(flag(args, '--repeats') ?? 10);
  const batches = (flag(args, '--batch') ?? '1,2').split(',').map(Number);
  const rss = new PeakRss();
  const rows: (string | number)[][] = [];

  let t0 = performance.now();
  const model = loadModel(modelFile);
  const tapped = tap(model, 'up_blocks.1', 'features');
  const tapMs = performance.now() - t0;
  const hidden = model.graph.inputs.find((i) => i.name === 'encoder_hidden_states')!.shape!.at(-1) as number;

  for (const b of batches) {
    const shapes = { sample: [b, 4, latent, latent], timestep: [], encoder_hidden_states: [b, 77, hidden] };
    t0 = performance.now();
    const spec = specialize(tapped.model, shapes);
    const specMs = performance.now() - t0;
    t0 = performance.now();
    const vjp = buildVjp(spec, { wrt: ['encoder_hidden_states'] });
    const vjpMs = performance.now() - t0;

    const feeds: Record<string, HostTensor> = {
      sample: randomTensor(shapes.sample, 1),
      timestep: { dtype: 'int64', dims: [], data: BigInt64Array.from([261n]) },
      encoder_hidden_states: randomTensor(shapes.encoder_hidden_states, 2),
    };
    t0 = performance.now();
    const fwd = await createModelSession(spec.model);
    const fwdLoad = performance.now() - t0;
    t0 = performance.now();
    const bwd = await createModelSession(vjp.model);
    const bwdLoad = performance.now() - t0;
    const featDims = spec.info.get('features')!.dims;
    const cot = randomTensor(featDims, 3);
    const f = await timeRuns(repeats, 2, () => fwd.run(feeds));
    const v = await timeRuns(repeats, 2, () => bwd.run({ ...feeds, [vjp.cotangentInput!]: cot }));
    rows.push([
      b,
      `${latent * 8}px`,
      (tapMs + specMs + vjpMs).toFixed(0),
      `${spec.model.graph.nodes.length} -> ${vjp.model.graph.nodes.length}`,
      `${fwdLoad.toFixed(0)} / ${bwdLoad.toFixed(0)}`,
      f.median,
      v.median,
      (v.median / f.median).toFixed(2),
      fwd.provider,
    ]);
    await fwd.dispose();
    await bwd.dispose();
  }
  const peak = rss.stop();
  printTable(
    `autodiff: ${path.relative(process.cwd(), modelFile)} tapped at up_blocks.1 (median of ${repeats} runs after 2 warm-ups)`,
    ['batch', 'image', 'build ms', 'nodes fwd -> vjp', 'session load ms (fwd / vjp)', 'forward ms', 'vjp ms', 'vjp/fwd', 'provider'],
    rows,
  );
  process.stdout.write(`peak RSS ${mib(peak)}\n`);
}

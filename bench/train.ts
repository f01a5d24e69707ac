/**
 * Training-step benchmark: step time split into data (images, VAE moments, noise, plans), the
 * step graph (text encoder and features of 2B images, loss and its gradient in one run), prompt
 * gradients (CPM's VJP) and optimizer, for batch 1-3, with the VAE latent cache warm (steady state)
 * and without it (every step recomputes the moments); against the UNet feature
 * forward of the same 2B images (target: a full step at most 3x that). Tiny fixture model by
 * default; `--model-dir D --size S` for a full-size model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TensorCache } from '../src/main/engine/cache/tensor-cache.js';
import { silentTask } from '../src/main/engine/jobs/progress.js';
import type { HostTensor } from '../src/main/engine/onnx/ir.js';
import type { EvalPair } from '../src/main/engine/sd4match/matching/evaluate.js';
import { Pipeline } from '../src/main/engine/sd4match/features/pipeline.js';
import { promptHiddenStates } from '../src/main/engine/sd4match/prompts/prompts.js';
import { SdModel } from '../src/main/engine/sd4match/model/sd-model.js';
import { TRAIN_DEFAULTS } from '../src/main/engine/sd4match/training/train-config.js';
import { type StepReport, Trainer } from '../src/main/engine/sd4match/training/trainer.js';
import { repeatBatch } from '../src/main/engine/sd4match/prompts/token-rows.js';
import { writeShiftedPairs } from '../test/helpers/shifted-pairs.js';
import { benchModel, flag, median, mib, PeakRss, printTable } from './table.js';

export const description = 'training step split (data, step graph, text VJP, optimizer) for batch 1-3, with/without the latent cache, vs the UNet forward';

/** A cache that never hits: every step recomputes the VAE moments. */
class NoCache extends TensorCache {
  override get(): null {
    this.misses++;
    return null;
  }
  override put(): void {}
}

export async function run(args: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-train-'));
  try {
    const { modelDir, size } = await benchModel(args, work);
    const steps = Number(flag(args, '--steps') ?? 12);
    const batches = (flag(args, '--batch') ?? '1,2,3').split(',').map(Number);
    const shifted = await writeShiftedPairs(path.join(work, 'images'), 8, { size, points: 12 });
    const pairs: EvalPair[] = shifted.map((p, i) => ({
      id: i,
      category: p.category,
      src: { file: p.src, key: p.src, width: p.width, height: p.height },
      trg: { file: p.trg, key: p.trg, width: p.width, height: p.height },
      srcKps: p.srcKps,
      trgKps: p.trgKps,
      trgBbox: null,
    }));
    const rss = new PeakRss();
    const sd = SdModel.open(modelDir, { cacheDir: path.join(work, 'cache') });
    const rows: (string | number)[][] = [];
    for (const B of batches) {
      // the UNet feature forward of the same 2B images, K = 1, at the training timestep
      const lat = size / 8;
      const c = sd.folder.latentChannels;
      const ehs = repeatBatch(await promptHiddenStates(sd, ''), 2 * B);
      const zeros = (dims: number[]): HostTensor => ({ dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
      const fwdArgs = { moments: zeros([2 * B, 2 * c, lat, lat]), eps: zeros([2 * B, c, lat, lat]), noise: zeros([2 * B, 1, c, lat, lat]), encoderHiddenStates: ehs, timestep: 261 };
      await sd.features(fwdArgs);
      const fwd: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await sd.features(fwdArgs);
        fwd.push(performance.now() - t0);
      }
      const unet = median(fwd);
      for (const cached of [true, false]) {
        const reports: StepReport[] = [];
        const wall: number[] = [];
        let last = performance.now();
        const onStep = (r: StepReport) => {
          reports.push(r);
          const now = performance.now();
          wall.push(now - last);
          last = now;
        };
        const cache = cached ? new TensorCache(path.join(work, 'tensors')) : new NoCache(path.join(work, 'none'));
        if (cached) {
          // steady state: every pair's VAE moments are in the cache before the timed steps
          const warm = new Pipeline(sd, { kind: 'empty' }, { size, timestep: 261, ensemble: 1, seed: 0 }, cache);
          for (const p of pairs) for (const img of [p.src, p.trg]) await warm.moments(img);
        }
        const t = new Trainer(
          sd,
          null,
          { train: pairs, val: [], benchmark: 'generic', dataset: 'bench' },
          { ...TRAIN_DEFAULTS, steps: steps + 2, batch: B, size, valEvery: 0, checkpointEvery: 0 },
          { runDir: path.join(work, `run-${B}-${cached}`), runId: 'bench', cache, task: silentTask(), hooks: { onStep } },
        );
        await t.prepare(false);
        last = performance.now();
        await t.run(path.join(work, `prompt-${B}-${cached}.safetensors`));
        const timed = reports.slice(2);
        const m = (f: (r: StepReport) => number) => median(timed.map(f));
        const total = median(wall.slice(2));
        rows.push([
          B,
          cached ? 'cached' : 'recomputed',
          m((r) => r.timings.data),
          m((r) => r.timings.graph),
          m((r) => r.timings.prompt),
          m((r) => r.timings.optimizer),
          total,
          unet,
          (total / unet).toFixed(2),
        ]);
      }
    }
    printTable(
      `train: ${modelDir} at ${size}x${size}, Single prompt, median of ${steps} steps after 2 warm-ups, provider ${await sd.provider()}`,
      ['batch', 'latents', 'data ms', 'step graph ms', 'prompt grads ms', 'optimizer ms', 'step ms', 'UNet fwd (2B) ms', 'step / fwd'],
      rows,
    );
    process.stdout.write(`peak RSS ${mib(rss.stop())}\n`);
    await sd.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

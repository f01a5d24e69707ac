/**
 * The paper's model at the paper's sizes: for each image size, feature extraction with K = 1 and
 * K = 8 draws per image (VAE + UNet, as `eval` runs it) and a training step for batch 1, 2, 3 (as
 * `train` runs it, latents cached). Each configuration runs in its own process, so its peak is its
 * own: peak RSS (VmHWM; counts a memory-mapped weight page once per mapping), peak PSS (physical
 * memory, sampled) and the estimate the workstation makes before running (memory-estimate.ts),
 * which also decides what is skipped. Beside them, PyTorch's figures for the same work
 * (pytorch-reference.json) and our time as a ratio of theirs, raw and scaled by the SGEMM rates of
 * the two machines (measured here in the same run: bench/pytorch.ts).
 *
 *   npm run bench -- scale --model-dir /tmp/full/sd21 [--sizes 256,512,768] [--ensembles 1,8] [--batches 1,2,3] [--steps 2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ProbeConfig, type ProbeResult, probe } from '../test/helpers/memory-probe.js';
import { loadPytorchReference, measureSgemm, rateLine, timeRatios } from './pytorch.js';
import { benchModel, flag, printTable } from './table.js';

export const description = 'full-size scale: features K=1/8 and training steps B=1..3 at 256/512/768 px, time, peak RSS/PSS, estimate, vs PyTorch';

/** Our rows -> the reference's work names (bench/pytorch.ts). */
const PYTORCH_WORK: Record<string, string> = {
  'features:768:1': 'features_768_k1',
  'features:768:8': 'features_768_k8',
  'train:768:1': 'train_step_768_b1',
};

export async function run(args: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-scale-'));
  try {
    const { modelDir, tiny } = await benchModel(args, work);
    const sizes = (flag(args, '--sizes') ?? (tiny ? '64,128' : '256,512,768')).split(',').map(Number);
    const ensembles = (flag(args, '--ensembles') ?? '1,8').split(',').map(Number);
    const batches = (flag(args, '--batches') ?? '1,2,3').split(',').map(Number);
    const steps = Number(flag(args, '--steps') ?? 2);
    const cacheDir = flag(args, '--cache-dir') ?? path.join(work, 'cache');
    const pytorch = loadPytorchReference(args);
    const threads = os.cpus().length;
    process.stderr.write(`scale: measuring the SGEMM rate (${threads} threads)...\n`);
    const sgemm = await measureSgemm(threads);
    const results: ProbeResult[] = [];
    const configs: ProbeConfig[] = [];
    for (const size of sizes) {
      for (const K of ensembles) configs.push({ kind: 'features', size, n: K, modelDir, cacheDir, work, steps });
      for (const B of batches) configs.push({ kind: 'train', size, n: B, modelDir, cacheDir, work, steps });
    }
    for (const c of configs) {
      process.stderr.write(`scale: ${c.kind} ${c.size} px, ${c.kind === 'features' ? 'K' : 'batch'} ${c.n}...\n`);
      results.push(await probe(c));
    }
    const rows = results.map((r) => {
      const ref = pytorch.work[PYTORCH_WORK[`${r.kind}:${r.size}:${r.n}`] ?? ''];
      const ratio = timeRatios(r.seconds ?? 0, ref, pytorch, sgemm);
      const label = r.kind === 'features' ? `features, K=${r.n} (per image)` : `training step, batch ${r.n}`;
      if (r.skipped)
        return [
          label,
          r.size,
          'skipped',
          '',
          '',
          '',
          r.estimateGb.toFixed(1),
          r.activationsGb.toFixed(1),
          r.skipped,
          ref ? `${ref.s} s` : '-',
          ratio.pytorchHere,
          ref?.peak_gb ? `${ref.peak_gb} GB` : '-',
          '',
          '',
          '',
        ];
      return [
        label,
        r.size,
        r.seconds!.toFixed(1),
        r.split ?? '',
        r.peakRssGb!.toFixed(2),
        r.peakPssGb!.toFixed(2),
        r.estimateGb.toFixed(2),
        r.activationsGb.toFixed(2),
        `${(((r.estimateGb - r.peakPssGb!) / r.peakPssGb!) * 100).toFixed(0)}%`,
        ref ? `${ref.s.toFixed(1)} s` : '-',
        ratio.pytorchHere,
        ref?.peak_gb ? `${ref.peak_gb} GB` : '-',
        ratio.raw,
        ratio.scaled,
        ref?.peak_gb ? `${(r.peakRssGb! / ref.peak_gb).toFixed(2)}x` : '-',
      ];
    });
    const providers = [...new Set(results.flatMap((r) => (r.provider ? [r.provider] : [])))].join(', ') || 'none ran';
    printTable(
      `scale: ${modelDir}, provider ${providers} (${os.cpus().length} CPU cores), one process per row; time is the median of ${steps} runs after a warm-up`,
      ['work', 'px', 's', 'split', 'peak RSS GB', 'peak PSS GB', 'estimate GB', 'plan act. GB', 'est. vs PSS', 'PyTorch s', 'PyTorch s here', 'PyTorch GB', 'time raw', 'time scaled', 'RSS ratio'],
      rows,
    );
    process.stdout.write(`${rateLine(pytorch, sgemm, threads)}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

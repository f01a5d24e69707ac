/**
 * The paper's model at the paper's sizes: for each image size, feature extraction with K = 1 and
 * K = 8 draws per image (VAE + UNet, as `eval` runs it) and a training step for batch 1, 2, 3 (as
 * `train` runs it, latents cached). Each configuration runs in its own process, so its peak is its
 * own: peak RSS (VmHWM; counts a memory-mapped weight page once per mapping), peak PSS (physical
 * memory, sampled) and the estimate the workstation makes before running (memory-estimate.ts),
 * which also decides what is skipped. Beside them, PyTorch's figures for the same work on this kind
 * of machine (../shared/full-size/README.md) and our time as a ratio of theirs.
 *
 *   npm run bench -- scale --model-dir /tmp/full/sd21 [--sizes 256,512,768] [--ensembles 1,8] [--batches 1,2,3] [--steps 2]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchModel, flag, printTable } from './table.js';

export const description = 'full-size scale: features K=1/8 and training steps B=1..3 at 256/512/768 px, time, peak RSS/PSS, estimate, vs PyTorch';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** PyTorch 2.13 on this kind of machine (../shared/full-size/README.md): seconds and peak GB. */
const PYTORCH: Record<string, { s: number; gb?: number; note?: string }> = {
  'features:768:1': { s: 18.9 + 6.4, gb: 7.0, note: 'VAE 18.9 s + UNet 6.4 s' },
  'features:768:8': { s: 18.9 + 61.7, gb: 7.3, note: 'VAE 18.9 s + UNet 8 draws 61.7 s' },
  'train:256:1': { s: 4.1, gb: 5.8 },
  'train:768:1': { s: 39.2, gb: 8.6 },
};

interface Result {
  kind: 'features' | 'train';
  size: number;
  n: number;
  skipped?: string;
  estimateGb: number;
  availableGb: number;
  seconds?: number;
  split?: string;
  peakRssGb?: number;
  peakPssGb?: number;
  activationsGb: number;
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--one')) return one(JSON.parse(flag(args, '--one')!) as Config);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-scale-'));
  try {
    const { modelDir, tiny } = await benchModel(args, work);
    const sizes = (flag(args, '--sizes') ?? (tiny ? '64,128' : '256,512,768')).split(',').map(Number);
    const ensembles = (flag(args, '--ensembles') ?? '1,8').split(',').map(Number);
    const batches = (flag(args, '--batches') ?? '1,2,3').split(',').map(Number);
    const steps = Number(flag(args, '--steps') ?? 2);
    const cacheDir = flag(args, '--cache-dir') ?? path.join(work, 'cache');
    const results: Result[] = [];
    const configs: Config[] = [];
    for (const size of sizes) {
      for (const K of ensembles) configs.push({ kind: 'features', size, n: K, modelDir, cacheDir, work, steps });
      for (const B of batches) configs.push({ kind: 'train', size, n: B, modelDir, cacheDir, work, steps });
    }
    for (const c of configs) {
      process.stderr.write(`scale: ${c.kind} ${c.size} px, ${c.kind === 'features' ? 'K' : 'batch'} ${c.n}...\n`);
      results.push(await child(c));
    }
    const rows = results.map((r) => {
      const ref = PYTORCH[`${r.kind}:${r.size}:${r.n}`];
      const label = r.kind === 'features' ? `features, K=${r.n} (per image)` : `training step, batch ${r.n}`;
      if (r.skipped) return [label, r.size, 'skipped', '', '', '', r.estimateGb.toFixed(1), r.activationsGb.toFixed(1), r.skipped, ref ? `${ref.s} s` : '-', ref?.gb ? `${ref.gb} GB` : '-', '', ''];
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
        ref?.gb ? `${ref.gb} GB` : '-',
        ref ? `${(r.seconds! / ref.s).toFixed(2)}x` : '-',
        ref?.gb ? `${(r.peakRssGb! / ref.gb).toFixed(2)}x` : '-',
      ];
    });
    printTable(
      `scale: ${modelDir}, CPU (${os.cpus().length} cores), one process per row; time is the median of ${steps} runs after a warm-up`,
      ['work', 'px', 's', 'split', 'peak RSS GB', 'peak PSS GB', 'estimate GB', 'plan act. GB', 'est. vs PSS', 'PyTorch s', 'PyTorch GB', 'time ratio', 'RSS ratio'],
      rows,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Config {
  kind: 'features' | 'train';
  size: number;
  n: number;
  modelDir: string;
  cacheDir: string;
  work: string;
  steps: number;
}

/** Runs one configuration in a child process; samples its PSS while it runs. */
function child(c: Config): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'run.ts'), 'scale', '--one', JSON.stringify(c)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let peakPss = 0;
    const timer = setInterval(() => {
      try {
        const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p.pid}/smaps_rollup`, 'utf8'));
        if (m) peakPss = Math.max(peakPss, Number(m[1]) * 1024);
      } catch {
        // not Linux, or the process is gone
      }
    }, 1000);
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code, signal) => {
      clearInterval(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`scale: ${c.kind} ${c.size}/${c.n} ended with ${signal ?? code} and no result${signal === 'SIGKILL' ? ' (killed: out of memory?)' : ''}`));
      const r = JSON.parse(line.slice(7)) as Result;
      if (!r.skipped) r.peakPssGb = Math.max(peakPss / 1e9, r.peakPssGb ?? 0);
      resolve(r);
    });
  });
}

function vmHwm(): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  } catch {
    return process.memoryUsage().rss;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function one(c: Config): Promise<void> {
  const { TensorCache } = await import('../src/main/engine/cache/tensor-cache.js');
  const { silentTask } = await import('../src/main/engine/jobs/progress.js');
  const { availableMemory, estimateFeatureMemory, estimateTrainingMemory } = await import('../src/main/engine/sd4match/memory-estimate.js');
  const { Pipeline } = await import('../src/main/engine/sd4match/pipeline.js');
  const { SdModel } = await import('../src/main/engine/sd4match/sd-model.js');
  const { TRAIN_DEFAULTS, Trainer } = await import('../src/main/engine/sd4match/trainer.js');
  const { writeShiftedPairs } = await import('../test/helpers/shifted-pairs.js');
  const sd = SdModel.open(c.modelDir, { cacheDir: c.cacheDir });
  const N = 12;
  const est = c.kind === 'features' ? estimateFeatureMemory(sd, c.size, c.n) : estimateTrainingMemory(sd, { size: c.size, batch: c.n, prompt: 'single', N });
  const avail = availableMemory('cpu')!.bytes;
  const base: Result = { kind: c.kind, size: c.size, n: c.n, estimateGb: est.bytes / 1e9, availableGb: avail / 1e9, activationsGb: est.activations / 1e9 };
  // leave a margin: the kernel kills a process that goes past the machine's memory
  if (est.bytes > 0.9 * avail) {
    process.stdout.write(`RESULT ${JSON.stringify({ ...base, skipped: `needs ~${(est.bytes / 1e9).toFixed(1)} GB, ${(avail / 1e9).toFixed(1)} GB free` })}\n`);
    return;
  }
  const dir = path.join(c.work, `images-${c.size}`);
  const pairs = await writeShiftedPairs(dir, Math.max(4, 2 * c.n + 2), { size: c.size, points: N });
  const ref = (f: string) => ({ file: f, key: `${f}:${c.size}`, width: c.size, height: c.size });
  const runs: number[] = [];
  let split = '';
  if (c.kind === 'features') {
    const cache = new TensorCache(path.join(c.work, `tensors-${process.pid}`));
    const pipe = new Pipeline(sd, { kind: 'empty' }, { size: c.size, timestep: 50, ensemble: c.n, seed: 0 }, cache);
    const ehs = await pipe.hiddenStates('object');
    const images = pairs.flatMap((p) => [p.src, p.trg]);
    const vae: number[] = [];
    for (let i = 0; i <= c.steps; i++) {
      const t0 = performance.now();
      await pipe.moments(ref(images[i]));
      const t1 = performance.now();
      await pipe.featuresWith(ref(images[i]), ehs, null);
      const t2 = performance.now();
      if (i > 0) {
        runs.push((t2 - t0) / 1000);
        vae.push((t1 - t0) / 1000);
      }
    }
    split = `VAE ${median(vae).toFixed(1)} s + UNet ${(median(runs) - median(vae)).toFixed(1)} s`;
  } else {
    const data = pairs.map((p, i) => ({ id: i, category: p.category, src: ref(p.src), trg: ref(p.trg), srcKps: p.srcKps, trgKps: p.trgKps, trgBbox: null }));
    const cache = new TensorCache(path.join(c.work, `tensors-${process.pid}`));
    const stepTimes: number[] = [];
    let last = 0;
    const t = new Trainer(
      sd,
      null,
      { train: data.slice(0, c.n), val: [], benchmark: 'generic', dataset: 'bench' },
      { ...TRAIN_DEFAULTS, steps: c.steps + 2, batch: c.n, size: c.size, valEvery: 0, checkpointEvery: 0 },
      {
        runDir: path.join(c.work, `run-${process.pid}`),
        runId: 'bench',
        cache,
        task: silentTask(),
        hooks: {
          onStep: (r) => {
            const now = performance.now();
            stepTimes.push((now - last) / 1000);
            last = now;
            if (r.step > 2) split = `graph ${(r.timings.graph / 1000).toFixed(1)} s`;
          },
        },
      },
    );
    await t.prepare(false);
    last = performance.now();
    // the first two steps warm up: they compute and cache the VAE moments (steady state is cached)
    await t.run(path.join(c.work, `prompt-${process.pid}.safetensors`));
    runs.push(...stepTimes.slice(2));
  }
  await sd.dispose();
  const pss = (() => {
    try {
      return Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]) * 1024;
    } catch {
      return 0;
    }
  })();
  process.stdout.write(`RESULT ${JSON.stringify({ ...base, seconds: median(runs), split, peakRssGb: vmHwm() / 1e9, peakPssGb: pss / 1e9 })}\n`);
}

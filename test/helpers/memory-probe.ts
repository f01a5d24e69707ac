/**
 * Measuring one configuration of the feature pipeline or of training in a process of its own, so
 * that its peak memory is its own: the estimate the workstation makes before running
 * (memory-estimate.ts), then the run, with peak RSS (VmHWM) and peak PSS (physical memory, sampled).
 * Used by `npm run bench -- scale` and by the estimate's accuracy test.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobProcessEnv } from '../../src/main/engine/jobs/job-process.js';

const ENTRY = fileURLToPath(import.meta.url);

export interface ProbeResult {
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
  /** The execution providers the measured sessions ran on. */
  provider?: string;
}

export interface ProbeConfig {
  kind: 'features' | 'train';
  size: number;
  n: number;
  modelDir: string;
  cacheDir: string;
  work: string;
  steps: number;
}

/**
 * Runs one configuration in a child process; samples its PSS while it runs. The child runs on the
 * provider in SD4MATCH_PROVIDER when set (a bench's `--provider` puts it there), else auto.
 */
export function probe(c: ProbeConfig): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify(c)], { stdio: ['ignore', 'pipe', 'inherit'], env: jobProcessEnv() });
    let out = '';
    let peakPss = 0;
    const timer = setInterval(() => {
      try {
        const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p.pid}/smaps_rollup`, 'utf8'));
        if (m) peakPss = Math.max(peakPss, Number(m[1]) * 1024);
      } catch {
        // not Linux, or the process is gone
      }
    }, 2000);
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code, signal) => {
      clearInterval(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`scale: ${c.kind} ${c.size}/${c.n} ended with ${signal ?? code} and no result${signal === 'SIGKILL' ? ' (killed: out of memory?)' : ''}`));
      const r = JSON.parse(line.slice(7)) as ProbeResult;
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

async function measure(c: ProbeConfig): Promise<void> {
  const { TensorCache } = await import('../../src/main/engine/cache/tensor-cache.js');
  const { silentTask } = await import('../../src/main/engine/jobs/progress.js');
  const { availableMemory, estimateFeatureMemory, estimateTrainingMemory } = await import('../../src/main/engine/sd4match/memory/memory-estimate.js');
  const { Pipeline } = await import('../../src/main/engine/sd4match/features/pipeline.js');
  const { SdModel } = await import('../../src/main/engine/sd4match/model/sd-model.js');
  const { Trainer } = await import('../../src/main/engine/sd4match/training/trainer.js');
  const { TRAIN_DEFAULTS } = await import('../../src/main/engine/sd4match/training/train-config.js');
  const { writeShiftedPairs } = await import('./shifted-pairs.js');
  const { parseProviderChoice, setProviderChoice } = await import('../../src/main/engine/onnx/providers.js');
  if (process.env.SD4MATCH_PROVIDER) setProviderChoice(parseProviderChoice(process.env.SD4MATCH_PROVIDER, 'SD4MATCH_PROVIDER'), 'option');
  const sd = SdModel.open(c.modelDir, { cacheDir: c.cacheDir });
  const N = 12;
  // as the services do before a memory check: the graphs estimated are the ones the run will use
  // (their attention form depends on the provider)
  await sd.plannedProvider();
  const est = c.kind === 'features' ? estimateFeatureMemory(sd, c.size, c.n) : estimateTrainingMemory(sd, { size: c.size, batch: c.n, prompt: 'single', N });
  const avail = availableMemory('cpu')!.bytes;
  const base: ProbeResult = { kind: c.kind, size: c.size, n: c.n, estimateGb: est.bytes / 1e9, availableGb: avail / 1e9, activationsGb: est.activations / 1e9 };
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
  const provider = sd.sessions.providersUsed().join(', ');
  await sd.dispose();
  const pss = (() => {
    try {
      return Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]) * 1024;
    } catch {
      return 0;
    }
  })();
  process.stdout.write(`RESULT ${JSON.stringify({ ...base, seconds: median(runs), split, peakRssGb: vmHwm() / 1e9, peakPssGb: pss / 1e9, provider })}\n`);
}

// run as a script: measure the configuration given as JSON and print the result line
if (process.argv[1] && path.resolve(process.argv[1]) === ENTRY) {
  measure(JSON.parse(process.argv[2]) as ProbeConfig).catch((e: unknown) => {
    process.stderr.write(`memory probe failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

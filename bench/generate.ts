/**
 * Generation benchmark: time per guided DDIM step (the full UNet on [uncond, cond] as a batch of
 * 2), VAE decode and peak RSS, per image size, as ratios to the PyTorch figures of
 * ../shared/full-size/README.md (one guided step 10.0 s / 25.9 s, decode 12.9 s / 32.1 s at
 * 512 / 768 px). `--model-dir D` (a full-size folder with vae_decoder) `--sizes 512,768`
 * `--steps N` (timed steps, default 2; the first, which builds the session, is not timed).
 * Each size runs in a fresh process with a job process's environment, so one size's peak (VmHWM)
 * is its own; the estimate is the one a generation job makes before its sessions exist.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/main/engine/sd4match/features/random.js';
import { jobProcessEnv } from '../src/main/engine/jobs/job-process.js';
import { Generator } from '../src/main/engine/sd4match/generation/generate.js';
import { estimateGenerationMemory } from '../src/main/engine/sd4match/memory/memory-estimate.js';
import { promptHiddenStates } from '../src/main/engine/sd4match/prompts/prompts.js';
import { SdModel } from '../src/main/engine/sd4match/model/sd-model.js';
import { loadPytorchReference, measureSgemm, rateLine, timeRatios } from './pytorch.js';
import { flag, mib, printTable } from './table.js';

export const description = 'guided DDIM step and VAE decode at 512 and 768 px, peak RSS, ratios to PyTorch';

export async function run(args: string[]): Promise<void> {
  const modelDir = flag(args, '--model-dir');
  if (!modelDir) throw new Error('--model-dir D is required (e.g. the full-size SD 2-1 folder)');
  const one = flag(args, '--one-size');
  if (one) return measure(modelDir, Number(one), Number(flag(args, '--steps') ?? 2));
  const sizes = (flag(args, '--sizes') ?? '512,768').split(',').map(Number);
  const rows: (string | number)[][] = [];
  const here = path.dirname(fileURLToPath(import.meta.url));
  const pytorch = loadPytorchReference(args);
  const threads = os.cpus().length;
  process.stderr.write(`measuring the SGEMM rate (${threads} threads)...\n`);
  const sgemm = await measureSgemm(threads);
  for (const size of sizes) {
    process.stderr.write(`${size}px...\n`);
    // a job process's environment (glibc tuned as generation jobs run)
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'run.ts'), 'generate', '--model-dir', modelDir, '--one-size', String(size), '--steps', flag(args, '--steps') ?? '2'], {
      encoding: 'utf8',
      env: jobProcessEnv(),
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) {
      rows.push([size, `failed (${r.signal ?? r.status}): ${(r.stderr || '').trim().split('\n').at(-1) ?? ''}`, '', '', '', '', '', '', '']);
      continue;
    }
    const m = JSON.parse(line.slice(7)) as { step: number; decode: number; peak: number; estimate: number };
    const step = timeRatios(m.step, pytorch.work[`guided_step_${size}`], pytorch, sgemm);
    const decode = timeRatios(m.decode, pytorch.work[`vae_decode_${size}`], pytorch, sgemm);
    const peakGb = pytorch.work[`vae_decode_${size}`]?.peak_gb;
    rows.push([
      size,
      m.step,
      step.raw,
      step.scaled,
      m.decode,
      decode.raw,
      decode.scaled,
      mib(m.peak),
      peakGb ? `${(m.peak / (peakGb * 1e9)).toFixed(2)}x` : '-',
      `${mib(m.estimate)} (${m.estimate >= m.peak ? '+' : ''}${((100 * (m.estimate - m.peak)) / m.peak).toFixed(0)}%)`,
    ]);
  }
  printTable(
    `generate: ${modelDir}, guidance batch of 2, fp32, CPU`,
    ['size', 'guided step (s)', 'vs PyTorch raw', 'scaled', 'VAE decode (s)', 'vs PyTorch raw', 'scaled', 'peak RSS', 'vs PyTorch', 'estimate (vs peak)'],
    rows,
  );
  process.stdout.write(`${rateLine(pytorch, sgemm, threads)}\n`);
}

async function measure(modelDir: string, size: number, steps: number): Promise<void> {
  const rng = new Rng(0);
  // the estimate a generation job makes before its sessions exist (compiled text graphs included)
  const sd = SdModel.open(modelDir, { cacheDir: path.join(os.tmpdir(), 'sd4match-bench-cache') });
  const folder = sd.folder;
  const g = new Generator(folder);
  const ehs = () => ({ dtype: 'float32' as const, dims: [1, 77, folder.hiddenSize], data: rng.normals(77 * folder.hiddenSize) });
  const estimate = estimateGenerationMemory(sd, g, size).bytes;
  // as a job does: the prompts through the text encoder, whose session then closes
  const cond = sd.folder.tokenizer ? await promptHiddenStates(sd, 'a photo of a cat') : ehs();
  const uncond = sd.folder.tokenizer ? await promptHiddenStates(sd, '') : ehs();
  await sd.dispose();
  const h = size / 8;
  const c = folder.latentChannels;
  const latents = { dtype: 'float32' as const, dims: [1, c, h, h], data: rng.normals(c * h * h) };
  // session creation and the first step untimed
  await g
    .generate(
      { latents, cond, uncond, steps: 1000, guidance: 7.5 },
      {
        token: { throwIfCancelled: () => {}, cancelled: false } as never,
        progress: (p) => {
          if (p.stage === 'sampling' && p.done === 1) throw new StopAfter();
        },
      },
    )
    .catch((e) => {
      if (!(e instanceof StopAfter)) throw e;
    });
  const times: number[] = [];
  let t0 = performance.now();
  await g
    .generate(
      { latents, cond, uncond, steps: 1000, guidance: 7.5 },
      {
        token: { throwIfCancelled: () => {}, cancelled: false } as never,
        progress: (p) => {
          if (p.stage !== 'sampling' || p.done === 0) return;
          times.push(performance.now() - t0);
          t0 = performance.now();
          if (p.done >= steps) throw new StopAfter();
        },
      },
    )
    .catch((e) => {
      if (!(e instanceof StopAfter)) throw e;
    });
  await g.decode({ dtype: 'float32', dims: [1, c, h, h], data: rng.normals(c * h * h) }); // decoder session
  const d0 = performance.now();
  await g.decode({ dtype: 'float32', dims: [1, c, h, h], data: rng.normals(c * h * h) });
  const decode = (performance.now() - d0) / 1000;
  const step = times.reduce((a, b) => a + b, 0) / times.length / 1000;
  await g.dispose();
  process.stdout.write(`RESULT ${JSON.stringify({ step, decode, peak: highWaterMark(), estimate })}\n`);
}

class StopAfter extends Error {}

/**
 * The process's peak resident set (VmHWM, kept by the kernel): sampling from the JS thread misses
 * the peak inside a session run, and the size's process holds nothing else.
 */
function highWaterMark(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

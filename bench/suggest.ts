/**
 * Suggestion benchmark: wall time of one image's keypoint suggestions (features, matching both
 * ways per exemplar, fusion) for 1, 5 and 20 exemplars, with
 *  - warm caches: the target's and the exemplars' features cached (suggesting again, e.g. with
 *    other exemplars or after a schema change);
 *  - cold target: the exemplars cached, the target not (the next image in Annotate: one feature
 *    pass, what the annotator waits for);
 *  - fully cold (`--fully-cold`, default on the tiny model only): nothing cached (2N + 1 passes:
 *    every exemplar is matched as it is and mirrored).
 * Sessions are opened before the timed region. `--job` times what Annotate waits for instead:
 * `suggest:start` jobs through the API (a job process that opens the model and its sessions,
 * then suggests from two labelled exemplars), with nothing cached, with the exemplars cached, and
 * everything cached. `--prefetch` times opening the next image in Annotate with and without
 * background prefetching (suggest-prefetch.ts). Default: the tiny fixture model at 256 px;
 * `--model-dir D [--size S] [--ensemble K]` runs a full-size model (K default 1; the paper's 8
 * multiplies each feature pass).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { TensorCache } from '../src/main/engine/cache/tensor-cache.js';
import { SessionCache } from '../src/main/engine/onnx/session-cache.js';
import { Pipeline } from '../src/main/engine/sd4match/features/pipeline.js';
import { SdModel } from '../src/main/engine/sd4match/model/sd-model.js';
import { type Exemplar, suggestKeypoints } from '../src/main/engine/suggest/suggest.js';
import { writeShiftedPairs } from '../test/helpers/shifted-pairs.js';
import { labelledWorkstation } from './labelled-workstation.js';
import { benchModel, flag, mib, PeakRss, printTable } from './table.js';

export const description = 'time per suggestion (1, 5, 20 exemplars) with warm and cold caches, peak RSS';

const COUNTS = [1, 5, 20];

export async function run(args: string[]): Promise<void> {
  if (args.includes('--job')) return runJobs(args);
  // the next image in Annotate with and without background prefetching (suggest-prefetch.ts)
  if (args.includes('--prefetch')) return (await import('./suggest-prefetch.js')).run(args);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-suggest-'));
  try {
    const { modelDir, size, tiny } = await benchModel(args, work);
    const ensemble = Number(flag(args, '--ensemble') ?? 1);
    const fullyCold = tiny || args.includes('--fully-cold');
    const side = Math.max(size, 128);
    // 20 exemplars + one target per count (+ the fully-cold ones)
    const nTargets = COUNTS.length * (fullyCold ? 2 : 1) + 1;
    const pairs = await writeShiftedPairs(path.join(work, 'images'), Math.ceil((20 + nTargets) / 2), { size: side, points: 10 });
    const files = pairs.flatMap((p) => [p.src, p.trg]);
    const kps = pairs.flatMap((p) => [p.srcKps, p.trgKps]);
    const ref = (f: string) => ({ file: f, key: createHash('sha256').update(fs.readFileSync(f)).digest('hex'), width: side, height: side });
    const exemplars: Exemplar[] = files.slice(0, 20).map((f, i) => ({ imageId: i + 1, ref: ref(f), scale: side, keypoints: kps[i].map(([x, y], kp) => ({ kp, x, y })) }));
    const targets = files.slice(20).map(ref);

    const rss = new PeakRss();
    const sd = SdModel.open(modelDir, { cacheDir: path.join(work, 'cache') });
    const cache = new TensorCache(path.join(work, 'cache', 'tensors'));
    const pipe = new Pipeline(sd, { kind: 'empty' }, { size, timestep: 50, ensemble, seed: 0 }, cache);
    const sessions = new SessionCache(16);
    const opts = { visibleThreshold: 0.3 };
    const say = (m: string) => process.stderr.write(`${m}\n`);

    // sessions (VAE, UNet, text, matching for every keypoint count) outside the timed regions
    say("warming up sessions and caching the exemplars' features...");
    const t0 = performance.now();
    await suggestKeypoints(pipe, sessions, exemplars[0].ref, exemplars, 'object', opts);
    const cachingMs = performance.now() - t0;
    // 20 exemplars, each as it is and mirrored (the target is exemplar 0's image)
    const passMs = cachingMs / 40;

    let next = 0;
    const rows: (string | number)[][] = [];
    for (const n of COUNTS) {
      const ex = exemplars.slice(0, n);
      const target = targets[next++];
      say(`${n} exemplar(s): cold target...`);
      let s = performance.now();
      const r = await suggestKeypoints(pipe, sessions, target, ex, 'object', opts);
      const cold = performance.now() - s;
      say(`${n} exemplar(s): warm...`);
      const warm: number[] = [];
      for (let i = 0; i < 3; i++) {
        s = performance.now();
        await suggestKeypoints(pipe, sessions, target, ex, 'object', opts);
        warm.push(performance.now() - s);
      }
      warm.sort((a, b) => a - b);
      let fully: number | string = 'not run (--fully-cold)';
      if (fullyCold) {
        // a cache of its own: nothing of these images is in it
        const fresh = new Pipeline(sd, { kind: 'empty' }, { size, timestep: 50, ensemble, seed: 0 }, new TensorCache(path.join(work, 'cache', `cold-${n}`)));
        const t = targets[next++];
        say(`${n} exemplar(s): fully cold...`);
        s = performance.now();
        await suggestKeypoints(fresh, sessions, t, ex, 'object', opts);
        fully = (performance.now() - s) / 1000;
      }
      rows.push([n, r.keypoints.length, warm[1] / 1000, cold / 1000, fully]);
    }
    printTable(
      `suggest: ${modelDir} at ${size}x${size}, ensemble ${ensemble}, 10 keypoints per exemplar, provider ${await sd.provider()} (sessions warm; one feature pass ~${(passMs / 1000).toFixed(2)} s)`,
      ['exemplars', 'keypoints', 'warm caches (s)', 'cold target (s)', 'fully cold (s)'],
      rows,
    );
    process.stdout.write(`peak RSS ${mib(rss.stop())}\n`);
    await sessions.clear();
    await pipe.dispose();
    await sd.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** `--job`: suggest:start jobs through the in-memory API, as Annotate runs them. */
async function runJobs(args: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-suggest-job-'));
  try {
    const { modelDir, size } = await benchModel(args, work);
    const ensemble = Number(flag(args, '--ensemble') ?? 1);
    const side = Math.max(size, 128);
    const root = path.join(work, 'images');
    const pairs = await writeShiftedPairs(root, 2, { size: side, points: 10 });
    const rss = new PeakRss();
    const w = await labelledWorkstation(work, modelDir, root, pairs, 10, 50);
    const { ok, job, modelId, categoryId, promptId, files, byFile } = w;
    try {
      const rows: (string | number)[][] = [];
      const time = async (label: string, target: string) => {
        const t0 = performance.now();
        const { jobId } = await ok<{ jobId: string }>('suggest:start', { categoryId, imageIds: [byFile.get(target)!], promptId, modelId, size, ensemble, timestep: 50 });
        await job(jobId);
        rows.push([label, (performance.now() - t0) / 1000]);
        process.stderr.write(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      };
      await time('nothing cached (5 feature passes: 2 exemplars as they are and mirrored, the target)', files[2]);
      await time('exemplars cached, new target (1 pass)', files[3]);
      await time('everything cached (0 passes)', files[3]);
      printTable(
        `suggest:start jobs: ${modelDir} at ${size}x${size}, ensemble ${ensemble}, 2 exemplars x 10 keypoints (job process, model and sessions opened per job)`,
        ['job', 'wall time (s)'],
        rows,
      );
      process.stdout.write(`peak RSS of this process ${mib(rss.stop())} (the job process is separate)\n`);
    } finally {
      await w.close();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

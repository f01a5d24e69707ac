/**
 * `npm run bench -- suggest --prefetch [--model-dir D] [--size S] [--ensemble K]`: what the
 * annotator waits for when opening the next image in Annotate, through the in-memory API as the
 * window does it: the time from `suggest:start` for the image just opened (what auto-suggest sends)
 * to its stored suggestions (`suggest:get` included),
 *  - without prefetch: a job process that opens the model, computes the image's features (the
 *    exemplars' are cached already) and matches;
 *  - with prefetch: the image's features were computed in the background while the previous one
 *    was open (`suggest:prefetch`, waited for here as if the annotator were labelling), and the warm
 *    serve host matches only (services/suggest/prefetch.ts).
 * Default: the tiny fixture model at 256 px (only the shape of the numbers means anything there);
 * the target is under 1 s with prefetch at full size (SD 2-1, 768 px).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PrefetchStatus } from '../src/main/contract/index.js';
import { writeShiftedPairs } from '../test/helpers/shifted-pairs.js';
import { labelledWorkstation } from './labelled-workstation.js';
import { benchModel, flag, median, mib, PeakRss, printTable } from './table.js';

/** Images timed each way. */
const WITHOUT = 2;
const WITH = 3;

export async function run(args: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-prefetch-'));
  const say = (m: string) => process.stderr.write(`${m}\n`);
  try {
    const { modelDir, size } = await benchModel(args, work);
    const ensemble = Number(flag(args, '--ensemble') ?? 1);
    const side = Math.max(size, 128);
    const root = path.join(work, 'images');
    // 2 exemplars, 1 warm-up, WITHOUT timed, the open image, WITH timed and 3 more ahead of the last
    const n = 2 + 1 + WITHOUT + 1 + WITH + 3;
    const pairs = await writeShiftedPairs(root, Math.ceil(n / 2), { size: side, points: 10 });
    const rss = new PeakRss();
    const w = await labelledWorkstation(work, modelDir, root, pairs, 10, 5);
    const { client, ok, job, modelId, categoryId, promptId, files, byFile } = w;
    let status: PrefetchStatus | null = null;
    client.on('suggest:prefetch', (s) => (status = s));
    try {
      const ids = files.map((f) => byFile.get(f)!);
      const settings = { categoryId, promptId, modelId, size, ensemble, timestep: 50 };
      /** Opening an image: auto-suggest's `suggest:start`, the job, and reading the stored set. */
      const open = async (imageId: number): Promise<{ seconds: number; warm: boolean }> => {
        const t0 = performance.now();
        const { jobId } = await ok<{ jobId: string }>('suggest:start', { ...settings, imageIds: [imageId] });
        const r = (await job(jobId)) as { warm?: boolean };
        await ok('suggest:get', { imageId, categoryId });
        return { seconds: (performance.now() - t0) / 1000, warm: r?.warm === true };
      };

      say("caching the exemplars' features (a first suggestion)...");
      await open(ids[2]);
      const without: number[] = [];
      for (let i = 0; i < WITHOUT; i++) {
        say(`without prefetch: opening image ${i + 1}...`);
        without.push((await open(ids[3 + i])).seconds);
      }

      const first = 3 + WITHOUT;
      const ahead = async (at: number): Promise<number> => {
        const t0 = performance.now();
        await ok('suggest:prefetch', { ...settings, openImageId: ids[at], imageIds: ids.slice(at + 1, at + 4) });
        while (!status || status.state !== 'done' || status.categoryId !== categoryId) await new Promise((r) => setTimeout(r, 20));
        status = null;
        return (performance.now() - t0) / 1000;
      };
      say('with prefetch: the first image open, the next ones computed in the background...');
      const background: number[] = [await ahead(first)];
      const withPrefetch: number[] = [];
      let warm = 0;
      for (let i = 1; i <= WITH; i++) {
        say(`with prefetch: opening image ${i}...`);
        const r = await open(ids[first + i]);
        withPrefetch.push(r.seconds);
        if (r.warm) warm++;
        // the annotator labels it meanwhile: what the next image needs is computed ahead
        if (i < WITH) background.push(await ahead(first + i));
      }
      await ok('suggest:prefetch-stop', {});
      printTable(
        `opening the next image in Annotate: ${modelDir} at ${size}x${size}, ensemble ${ensemble}, 2 exemplars x 10 keypoints, from suggest:start to the stored suggestions`,
        ['', 'images', 'median (s)', 'max (s)'],
        [
          ['without prefetch (job process: model, 1 feature pass, matching)', without.length, median(without), Math.max(...without)],
          [`with prefetch (warm serve host: matching only; ${warm} of ${withPrefetch.length} answered warm)`, withPrefetch.length, median(withPrefetch), Math.max(...withPrefetch)],
          ['background prefetch per request (not waited for by the annotator)', background.length, median(background), Math.max(...background)],
        ],
      );
      process.stdout.write(`peak RSS of this process ${mib(rss.stop())} (the job and host processes are separate)\n`);
    } finally {
      await w.close();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

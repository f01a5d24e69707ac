/**
 * Feature pipeline benchmark: per stage (decode + resize, VAE, UNet features, matching per pair)
 * ms per image and images per second, then the same pass again from the caches (hit rates).
 * Default: the tiny fixture model with a generated tokenizer at 256 px; `--model-dir D [--size S]`
 * runs a full-size model (e.g. SD 2-1 at 768).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TensorCache } from '../src/main/engine/cache/tensor-cache.js';
import { SessionCache } from '../src/main/engine/onnx/session-cache.js';
import { loadImageForVae } from '../src/main/engine/sd4match/features/image.js';
import { matchKeypoints } from '../src/main/engine/sd4match/matching/matching.js';
import { Pipeline } from '../src/main/engine/sd4match/features/pipeline.js';
import { SdModel } from '../src/main/engine/sd4match/model/sd-model.js';
import { writeShiftedPairs } from '../test/helpers/shifted-pairs.js';
import { benchModel, flag, mib, PeakRss, printTable } from './table.js';

export const description = 'feature pipeline per stage (decode, VAE, UNet, matching): ms/image, images/s, cache hit rates';

export async function run(args: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-features-'));
  try {
    const { modelDir, size } = await benchModel(args, work);
    const nPairs = Number(flag(args, '--pairs') ?? 8);
    const ensemble = Number(flag(args, '--ensemble') ?? 1);
    const pairs = await writeShiftedPairs(path.join(work, 'images'), nPairs, { size: Math.max(size, 128), points: 10 });
    const rss = new PeakRss();
    const cacheDir = path.join(work, 'cache');
    const sd = SdModel.open(modelDir, { cacheDir });
    const images = pairs.flatMap((p) => [p.src, p.trg]);
    const ref = (f: string) => ({ file: f, key: f, width: Math.max(size, 128), height: Math.max(size, 128) });

    // warm-up: sessions created outside the timed region
    const warm = await loadImageForVae(images[0], size);
    await sd.vaeMoments(warm.pixels);

    const t = { decode: 0, vae: 0, unet: 0, match: 0 };
    const pipe = new Pipeline(sd, { kind: 'empty' }, { size, timestep: 50, ensemble, seed: 0 }, new TensorCache(path.join(cacheDir, 'tensors')));
    const ehs = await pipe.hiddenStates('object');
    await pipe.featuresWith(ref(images[0]), ehs, null); // feature-graph session
    const features: Record<string, Awaited<ReturnType<typeof pipe.featuresWith>>> = {};
    for (const f of images) {
      let t0 = performance.now();
      const { pixels } = await loadImageForVae(f, size);
      t.decode += performance.now() - t0;
      t0 = performance.now();
      const moments = await sd.vaeMoments(pixels);
      t.vae += performance.now() - t0;
      const [, c2, h, w] = moments.dims;
      t0 = performance.now();
      features[f] = (
        await sd.features({
          moments,
          eps: { dtype: 'float32', dims: [1, c2 / 2, h, w], data: new Float32Array((c2 / 2) * h * w) },
          noise: { dtype: 'float32', dims: [1, ensemble, c2 / 2, h, w], data: new Float32Array(ensemble * (c2 / 2) * h * w) },
          encoderHiddenStates: ehs,
          timestep: 50,
        })
      ).features;
      t.unet += performance.now() - t0;
    }
    const sessions = new SessionCache();
    const N = 12;
    const kps = new Float32Array(N * 2).map((_, i) => 10 + ((i * 7) % (size - 20)));
    await matchKeypoints(sessions, { srcFeatures: features[images[0]], trgFeatures: features[images[1]], srcKps: kps, N, srcFrame: { h: size, w: size }, trgFrame: { h: size, w: size } });
    for (const p of pairs) {
      const t0 = performance.now();
      await matchKeypoints(sessions, { srcFeatures: features[p.src], trgFeatures: features[p.trg], srcKps: kps, N, srcFrame: { h: size, w: size }, trgFrame: { h: size, w: size } });
      t.match += performance.now() - t0;
    }
    const n = images.length;
    const rows: (string | number)[][] = [
      ['decode + resize', t.decode / n, (1000 * n) / t.decode],
      ['VAE moments', t.vae / n, (1000 * n) / t.vae],
      [`UNet features (K=${ensemble})`, t.unet / n, (1000 * n) / t.unet],
      ['matching, 4 methods (per pair)', t.match / pairs.length, (1000 * pairs.length) / t.match],
      ['total per image', (t.decode + t.vae + t.unet) / n + t.match / 2 / pairs.length, (1000 * n) / (t.decode + t.vae + t.unet + t.match)],
    ];
    printTable(`features: ${modelDir} at ${size}x${size}, ${n} images, ${pairs.length} pairs, provider ${await sd.provider()} (sessions warm)`, ['stage', 'ms / image', 'images / s'], rows);

    // cold cache pass vs warm cache pass through the pipeline (what eval does)
    const cacheRows: (string | number)[][] = [];
    for (const label of ['first pass (empty cache)', 'second pass (cached)']) {
      const cache = new TensorCache(path.join(cacheDir, 'tensors-pipeline'));
      const p2 = new Pipeline(sd, { kind: 'empty' }, { size, timestep: 50, ensemble, seed: 0 }, cache);
      const t0 = performance.now();
      for (const p of pairs) await p2.pairFeatures(ref(p.src), ref(p.trg), 'object');
      const ms = performance.now() - t0;
      const s = cache.stats();
      cacheRows.push([label, ms / n, (1000 * n) / ms, `${(100 * s.hitRate).toFixed(0)}% (${s.hits}/${s.hits + s.misses})`]);
    }
    printTable('pipeline with caches (VAE moments and features per image)', ['pass', 'ms / image', 'images / s', 'cache hit rate'], cacheRows);
    process.stdout.write(`peak RSS ${mib(rss.stop())}\n`);
    await sd.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

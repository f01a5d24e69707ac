/**
 * Sanity of the whole matching path: an image paired with itself, with the same keypoints, is
 * matched perfectly. Real pipeline on the tiny fixture SD model (VAE, UNet up_blocks.1 features
 * with the empty prompt, ensemble of 8 noise draws) at the paper's 768 px (a 48 x 48 feature grid,
 * as SD 2-1's), kernel soft-argmax, SPair thresholds on the box around the keypoints, in the
 * resized and the original frame. (At 256 px the same images miss a point now and then: a 16 px
 * cell is then wider than 0.05 of these boxes, which the paper's setting never asks of it.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import { silentTask } from '../../src/main/engine/jobs/progress.js';
import { type EvalPair, evaluate } from '../../src/main/engine/sd4match/matching/evaluate.js';
import { Pipeline } from '../../src/main/engine/sd4match/features/pipeline.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedPairs } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let sd: SdModel;
let pairs: EvalPair[];
let cache: TensorCache;

describe.skipIf(!HAVE_FIXTURES)('an image paired with itself', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-self-'));
    sd = SdModel.open(tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd')), { cacheDir: path.join(dir, 'cache') });
    cache = new TensorCache(path.join(dir, 'tensors'));
    // textured images, a square one and a wide one, 16 keypoints each
    const square = await writeShiftedPairs(path.join(dir, 'square'), 1, { size: 192, points: 16, seed: 3 });
    const wide = await writeShiftedPairs(path.join(dir, 'wide'), 1, { size: 160, points: 16, seed: 5 });
    const wideFile = path.join(dir, 'wide', 'wide.png');
    await sharp(wide[0]!.src).resize(240, 160, { fit: 'fill' }).png().toFile(wideFile);
    const images = [
      { file: square[0]!.src, width: 192, height: 192, kps: square[0]!.srcKps },
      { file: wideFile, width: 240, height: 160, kps: wide[0]!.srcKps.map(([x, y]) => [x * 1.5, y] as [number, number]) },
    ];
    pairs = images.map((im, i) => {
      const ref = { file: im.file, key: `self-${i}`, width: im.width, height: im.height };
      const xs = im.kps.map((k) => k[0]);
      const ys = im.kps.map((k) => k[1]);
      return {
        id: i,
        category: 'texture',
        src: ref,
        trg: ref,
        srcKps: im.kps,
        trgKps: im.kps,
        trgBbox: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] as [number, number, number, number],
      };
    });
  }, 120_000);

  afterAll(async () => {
    await sd?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const frame of ['resized', 'original'] as const) {
    it(`scores PCK@0.05 = 1.0 with kernel soft-argmax (${frame} frame)`, async () => {
      const pipe = new Pipeline(sd, { kind: 'empty' }, { size: 768, timestep: 50, ensemble: 8, seed: 0 }, cache);
      try {
        const r = await evaluate(pipe, pairs, { benchmark: 'spair', frame, methods: ['kernelsoftmax'], alphas: [0.05] }, silentTask());
        expect(r.points).toBe(32);
        expect(r.pairs).toBe(2);
        for (const p of r.perPair) expect(p.pck.kernelsoftmax, `pair ${p.id}`).toEqual([1]);
        expect(r.pck.kernelsoftmax!['0.05']!.image).toBe(1);
        expect(r.pck.kernelsoftmax!['0.05']!.point).toBe(1);
        // and well inside the threshold (0.05 of the box), not at its edge
        for (const p of r.perPair) expect(p.error.kernelsoftmax!, `pair ${p.id}`).toBeLessThan(0.025);
      } finally {
        await pipe.dispose();
      }
    }, 120_000);
  }
});

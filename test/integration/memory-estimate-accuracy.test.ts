/**
 * The memory estimate made before a run (engine/sd4match/memory/memory-estimate.ts) against the measured
 * peak of the same work, each configuration in a process of its own (test/helpers/memory-probe.ts):
 * within 25% for training steps and feature extraction on the tiny model at two sizes. The
 * refusal names a micro-batch that fits when the requested batch does not.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTrainingFits, estimateTrainingMemory } from '../../src/main/engine/sd4match/memory/memory-estimate.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { probe } from '../helpers/memory-probe.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let work: string;
let modelDir: string;

describe.skipIf(!HAVE_FIXTURES)('the memory estimate', () => {
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-memest-'));
    modelDir = tinySdWithTokenizer(modelPath('sd'), path.join(work, 'sd'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const size of [256, 512]) {
    for (const kind of ['train', 'features'] as const) {
      it(`is within 25% of the measured peak: ${kind === 'train' ? 'training step, batch 2' : 'features, ensemble 4'} at ${size} px`, async () => {
        const r = await probe({ kind, size, n: kind === 'train' ? 2 : 4, modelDir, cacheDir: path.join(work, 'cache'), work, steps: 1 });
        expect(r.skipped).toBeUndefined();
        const measured = r.peakRssGb!;
        expect(Math.abs(r.estimateGb - measured) / measured, `estimate ${r.estimateGb.toFixed(3)} GB, measured ${measured.toFixed(3)} GB`).toBeLessThan(0.25);
      }, 240_000);
    }
  }

  it('refuses a batch that will not fit and names the micro-batch that does', async () => {
    const sd = SdModel.open(modelDir, { cacheDir: path.join(work, 'cache') });
    try {
      const args = { size: 512, prompt: 'single' as const, N: 12, accumulate: 1 };
      const one = estimateTrainingMemory(sd, { ...args, batch: 1 });
      const four = estimateTrainingMemory(sd, { ...args, batch: 4 });
      expect(four.activations).toBeGreaterThan(one.activations);
      // room for two pairs, not four
      const room = one.bytes + 1.5 * ((four.bytes - one.bytes) / 3);
      process.env.SD4MATCH_AVAILABLE_MEMORY_GB = String(room / 1e9);
      expect(() => checkTrainingFits(sd, { ...args, batch: 4 }, 'cpu')).toThrow(/training at 512 px with batch 4 needs about .* GB .* use --batch 2 --accumulate 2/);
      expect(checkTrainingFits(sd, { ...args, batch: 2 }, 'cpu').bytes).toBeLessThanOrEqual(room);
    } finally {
      delete process.env.SD4MATCH_AVAILABLE_MEMORY_GB;
      await sd.dispose();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { applyFlip, toEvalPair } from '../../src/main/engine/datasets/pair-geometry.js';
import { pckThreshold } from '../../src/main/engine/sd4match/matching/evaluate.js';
import type { PairRecord } from '../../src/main/store/repositories/pairs.js';

function pair(over: Partial<PairRecord>): PairRecord {
  const side = { imageId: 1, path: '/a.jpg', width: 100, height: 60, sha256: 'a', bbox: [10, 5, 40, 50] as [number, number, number, number], kps: Float64Array.from([10, 20, 30, 40]) };
  return {
    id: 1,
    datasetId: 1,
    format: 'spair',
    split: 'trn',
    name: 'p',
    ordinal: 0,
    categoryId: 1,
    category: 'cat',
    nPts: 2,
    src: side,
    trg: { ...side, width: 200, height: 80, sha256: 'b', bbox: [0, 0, 50, 70], kps: Float64Array.from([5, 6, 65, 16]) },
    kpIds: [0, 1],
    flip: 0,
    flags: { viewpointVariation: 0, scaleVariation: 0, truncation: 0, occlusion: 0, mirror: 0 },
    ...over,
  };
}

describe('pair geometry', () => {
  it("uses each benchmark's PCK threshold in the original frame", () => {
    expect(pckThreshold(toEvalPair(pair({ format: 'spair' })), 'spair', 'original', 256)).toBe(70); // max(w, h) of the target box
    expect(pckThreshold(toEvalPair(pair({ format: 'pfpascal' })), 'pfpascal', 'original', 256)).toBe(200); // max(h, w) of the target image
    expect(pckThreshold(toEvalPair(pair({ format: 'pfwillow' })), 'pfwillow', 'original', 256)).toBe(60); // max extent of the target keypoints
  });

  it('scales thresholds with the image in the resized frame', () => {
    // target 200 x 80 resized to 256 x 256: box 50 x 70 -> 64 x 224
    expect(pckThreshold(toEvalPair(pair({ format: 'spair' })), 'spair', 'resized', 256)).toBeCloseTo(224, 9);
    expect(pckThreshold(toEvalPair(pair({ format: 'pfpascal' })), 'pfpascal', 'resized', 256)).toBe(256);
    // keypoints (5, 6) and (65, 16) -> x extent 60 * 1.28 = 76.8, y extent 10 * 3.2 = 32
    expect(pckThreshold(toEvalPair(pair({ format: 'pfwillow' })), 'pfwillow', 'resized', 256)).toBeCloseTo(76.8, 9);
  });

  it('mirrors keypoints and boxes of flipped pairs and leaves others alone', () => {
    const p = pair({ flip: 1 });
    const f = applyFlip(p);
    expect([...f.src.kps]).toEqual([90, 20, 70, 40]);
    expect(f.src.bbox).toEqual([60, 5, 90, 50]);
    expect([...f.trg.kps]).toEqual([195, 6, 135, 16]);
    expect(f.trg.bbox).toEqual([150, 0, 200, 70]);
    expect([...p.src.kps]).toEqual([10, 20, 30, 40]);
    const q = pair({});
    expect(applyFlip(q)).toBe(q);
    const e = toEvalPair(p);
    expect(e.src.flip).toBe(true);
    expect(e.srcKps).toEqual([
      [90, 20],
      [70, 40],
    ]);
  });
});

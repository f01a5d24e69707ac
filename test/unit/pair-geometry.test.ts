import { describe, expect, it } from 'vitest';
import { applyFlip, pckThreshold } from '../../src/main/engine/datasets/pair-geometry.js';
import type { PairRecord } from '../../src/main/store/repositories/pairs.js';

function pair(over: Partial<PairRecord>): PairRecord {
  const side = { imageId: 1, path: '/a.jpg', width: 100, height: 60, bbox: [10, 5, 40, 50] as [number, number, number, number], kps: Float64Array.from([10, 20, 30, 40]) };
  return {
    id: 1, datasetId: 1, format: 'spair', split: 'trn', name: 'p', ordinal: 0, categoryId: 1, category: 'cat', nPts: 2,
    src: side, trg: { ...side, width: 200, height: 80, bbox: [0, 0, 50, 70], kps: Float64Array.from([5, 6, 65, 16]) },
    kpIds: [0, 1], flip: 0, flags: { viewpointVariation: 0, scaleVariation: 0, truncation: 0, occlusion: 0, mirror: 0 },
    ...over,
  };
}

describe('pair geometry', () => {
  it('uses each benchmark\'s PCK threshold', () => {
    expect(pckThreshold(pair({ format: 'spair' }))).toBe(70); // max(w, h) of the target box
    expect(pckThreshold(pair({ format: 'pfpascal' }))).toBe(200); // max(h, w) of the target image
    expect(pckThreshold(pair({ format: 'pfwillow' }))).toBe(60); // max extent of the target keypoints
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
  });
});

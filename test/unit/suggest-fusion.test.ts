/** Fusion of a keypoint's candidates from several exemplars, and the "label next" ranking (pure code). */
import { describe, expect, it } from 'vitest';
import { candidateQuality, fuseCandidates } from '../../src/main/engine/suggest/fusion.js';
import { mirrorKeypoints } from '../../src/main/engine/suggest/suggest.js';
import { cosine, globalDescriptor, rankQueue } from '../../src/main/engine/suggest/ranking.js';

const good = (x: number, y: number) => ({ x, y, similarity: 0.9, cycle: 0 });

describe('fuseCandidates', () => {
  it('agreeing candidates: their weighted mean, full agreement, confidence = their quality', () => {
    const f = fuseCandidates([good(100, 100), good(102, 100), { x: 101, y: 103, similarity: 0.75, cycle: 0 }], { scale: 200 })!;
    expect(f.candidates).toBe(3);
    expect(f.agreement).toBeCloseTo(1, 12);
    // q-weighted mean of x: (0.9·100 + 0.9·102 + 0.75·101) / 2.55
    expect(f.x).toBeCloseTo((0.9 * 100 + 0.9 * 102 + 0.75 * 101) / 2.55, 6);
    expect(f.y).toBeCloseTo((0.9 * 100 + 0.9 * 100 + 0.75 * 103) / 2.55, 6);
    // Σq²/Σq = (0.81 + 0.81 + 0.5625) / 2.55
    expect(f.confidence).toBeCloseTo(2.1825 / 2.55, 6);
    // a much weaker candidate (0.6 < 0.9 - 2 · 0.1) has no say in the position
    const weak = fuseCandidates([good(100, 100), good(102, 100), { x: 140, y: 103, similarity: 0.6, cycle: 0 }], { scale: 200 })!;
    expect(weak.x).toBeCloseTo(101, 9);
    expect(weak.agreement).toBe(1);
  });

  it('a disagreeing candidate is outvoted and lowers the confidence by its weight', () => {
    const agreeing = fuseCandidates([good(100, 100), good(101, 101)], { scale: 200 })!;
    const f = fuseCandidates([good(100, 100), good(101, 101), good(180, 20)], { scale: 200 })!;
    expect(f.x).toBeCloseTo(100.5, 6);
    expect(f.y).toBeCloseTo(100.5, 6);
    expect(f.agreement).toBeCloseTo(2 / 3, 6);
    expect(f.confidence).toBeCloseTo(agreeing.confidence * (2 / 3), 6);
    // the outlier does not move the position: candidates beyond 2σ (σ = 0.05·200 = 10 px) are left out
    const near = fuseCandidates([good(100, 100), good(119, 100)], { scale: 200 })!;
    expect(near.agreement).toBe(1);
    const far = fuseCandidates([good(100, 100), good(121, 100)], { scale: 200 })!;
    expect(far.agreement).toBeCloseTo(0.5, 6);
  });

  it('the better candidate wins a tie of two: quality decides the anchor', () => {
    const f = fuseCandidates(
      [
        { x: 10, y: 10, similarity: 0.55, cycle: 0 },
        { x: 150, y: 150, similarity: 0.7, cycle: 0 },
      ],
      { scale: 200 },
    )!;
    expect([f.x, f.y]).toEqual([150, 150]);
    // 0.55 is comparable to 0.7 (floor 0.7 - 2 · 0.3 = 0.1): its disagreement counts
    expect(f.agreement).toBeCloseTo(0.7 / 1.25, 6);
  });

  it('a near-perfect candidate decides position and confidence whatever unrelated exemplars say', () => {
    const unrelated = [
      { x: 20, y: 30, similarity: 0.8, cycle: 0.02 },
      { x: 180, y: 40, similarity: 0.85, cycle: 0 },
      { x: 60, y: 170, similarity: 0.7, cycle: 0.05 },
      { x: 150, y: 150, similarity: 0.82, cycle: 0 },
      { x: 90, y: 20, similarity: 0.75, cycle: 0 },
    ];
    for (let n = 1; n <= 5; n++) {
      const f = fuseCandidates([{ x: 100, y: 100, similarity: 0.995, cycle: 0.001 }, ...unrelated.slice(0, n)], { scale: 200 })!;
      expect([f.x, f.y]).toEqual([100, 100]);
      expect(f.agreement).toBe(1);
      expect(f.confidence).toBeCloseTo(candidateQuality({ x: 0, y: 0, similarity: 0.995, cycle: 0.001 }), 9);
      expect(f.candidates).toBe(n + 1);
    }
    // the same unrelated candidates alone disagree among themselves: low confidence
    const alone = fuseCandidates(unrelated, { scale: 200 })!;
    expect(alone.confidence).toBeLessThan(0.3);
  });

  it('comparable candidates that disagree still lower the confidence of the best', () => {
    const f = fuseCandidates(
      [
        { x: 100, y: 100, similarity: 0.95, cycle: 0 },
        { x: 20, y: 20, similarity: 0.9, cycle: 0 },
      ],
      { scale: 200 },
    )!;
    // floor 0.95 - 2 · 0.05 = 0.85: 0.9 is comparable
    expect([f.x, f.y]).toEqual([100, 100]);
    expect(f.agreement).toBeCloseTo(0.95 / 1.85, 6);
    expect(f.confidence).toBeCloseTo(0.95 * (0.95 / 1.85), 6);
  });

  it('one exemplar: its position, agreement 1, confidence its quality', () => {
    const f = fuseCandidates([{ x: 5, y: 6, similarity: 0.8, cycle: 0.1 }], { scale: 100 })!;
    expect(f.x).toBeCloseTo(5, 9);
    expect(f.y).toBeCloseTo(6, 9);
    expect([f.candidates, f.agreement]).toEqual([1, 1]);
    expect(f.confidence).toBeCloseTo(0.8 * Math.exp(-0.5), 6);
  });

  it('no candidate (no exemplar has the keypoint): nothing to suggest', () => {
    expect(fuseCandidates([], { scale: 100 })).toBeNull();
  });

  it('quality: cycle failures and negative or missing peaks give zero, never NaN', () => {
    expect(candidateQuality({ x: 0, y: 0, similarity: 1, cycle: 0 })).toBe(1);
    expect(candidateQuality({ x: 0, y: 0, similarity: -0.3, cycle: 0 })).toBe(0);
    expect(candidateQuality({ x: 0, y: 0, similarity: Number.NaN, cycle: 0 })).toBe(0);
    expect(candidateQuality({ x: 0, y: 0, similarity: 1, cycle: Number.POSITIVE_INFINITY })).toBe(0);
    expect(candidateQuality({ x: 0, y: 0, similarity: 1, cycle: 0.5 })).toBeLessThan(1e-5);
    const f = fuseCandidates(
      [
        { x: 1, y: 1, similarity: 0, cycle: 0 },
        { x: 1, y: 2, similarity: 0, cycle: 0 },
      ],
      { scale: 100 },
    )!;
    expect(f.confidence).toBe(0);
    expect(f.agreement).toBe(1);
    expect(Number.isFinite(f.x) && Number.isFinite(f.y)).toBe(true);
  });

  it('rejects a non-positive scale', () => {
    expect(() => fuseCandidates([good(1, 1)], { scale: 0 })).toThrow(/scale must be positive/);
  });
});

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe('rankQueue', () => {
  it('low confidence first when descriptors tie', () => {
    const d = unit(1, 0, 0);
    const q = rankQueue(
      [
        { id: 1, confidence: 0.9, descriptor: d },
        { id: 2, confidence: 0.2, descriptor: d },
        { id: 3, confidence: 0.5, descriptor: d },
      ],
      [unit(0, 1, 0)],
    );
    expect(q.map((r) => r.id)).toEqual([2, 3, 1]);
    expect(q[0].reason).toMatch(/low suggestion confidence/);
  });

  it('novelty: unlike the labelled set first, and a near-duplicate of an already queued image is pushed back', () => {
    const labelled = [unit(1, 0, 0)];
    const q = rankQueue(
      [
        { id: 1, confidence: 0.5, descriptor: unit(1, 0.05, 0) }, // near a labelled image
        { id: 2, confidence: 0.5, descriptor: unit(0, 1, 0) }, // new
        { id: 3, confidence: 0.5, descriptor: unit(0, 1, 0.01) }, // new, but a duplicate of 2
        { id: 4, confidence: 0.5, descriptor: unit(0.5, 0, 1) }, // new elsewhere
      ],
      labelled,
    );
    const first = q[0].id;
    expect([2, 3]).toContain(first);
    expect(q[1].id).toBe(4);
    // once one of the pair is queued, the other is no newer than an image next to a labelled one
    expect(q.map((r) => r.id).slice(2)).toEqual([1, first === 2 ? 3 : 2]);
    // reported novelty is against the labelled images only
    expect(q.find((r) => r.id === 3)!.novelty).toBeCloseTo(1, 3);
    expect(q.find((r) => r.id === 1)!.novelty).toBeLessThan(0.01);
  });

  it('images with no signal come last in the given order; one signal scores alone', () => {
    const q = rankQueue(
      [
        { id: 7, confidence: null, descriptor: null },
        { id: 5, confidence: null, descriptor: null },
        { id: 6, confidence: 0.1, descriptor: null },
        { id: 8, confidence: null, descriptor: unit(0, 0, 1) },
      ],
      [unit(1, 0, 0)],
    );
    expect(q.map((r) => r.id)).toEqual([8, 6, 7, 5]);
    expect(q[0].score).toBeCloseTo(1, 6);
    expect(q[1].score).toBeCloseTo(0.9, 6);
    expect(q[2].reason).toBe('not suggested for yet');
  });

  it('no labelled image: everything is novel', () => {
    const q = rankQueue([{ id: 1, confidence: 0.4, descriptor: unit(1, 0) }], []);
    expect(q[0].novelty).toBe(1);
    expect(q[0].score).toBeCloseTo(0.5 * 0.6 + 0.5, 6);
  });
});

describe('globalDescriptor', () => {
  it("is the normalised mean of normalised cells, whatever the cells' norms", () => {
    // C = 2, 1×2 grid: cells (3, 0) and (0, 0.5) → normalised (1,0), (0,1) → mean (0.5, 0.5) → unit
    const d = globalDescriptor(Float32Array.from([3, 0, 0, 0.5]), [1, 2, 1, 2]);
    expect(d[0]).toBeCloseTo(Math.SQRT1_2, 5);
    expect(d[1]).toBeCloseTo(Math.SQRT1_2, 5);
    expect(cosine(d, d)).toBeCloseTo(1, 5);
    expect(() => globalDescriptor(new Float32Array(3), [1, 2, 1, 2])).toThrow(/3 values/);
  });
});

describe('mirrorKeypoints', () => {
  const pairs: [number, number][] = [
    [0, 1],
    [3, 5],
  ];

  it('mirrors x and swaps the names of symmetric pairs; a keypoint in no pair keeps its name', () => {
    expect(
      mirrorKeypoints(
        [
          { kp: 0, x: 10, y: 5 },
          { kp: 1, x: 30, y: 6 },
          { kp: 2, x: 20, y: 9 },
        ],
        100,
        pairs,
      ),
    ).toEqual([
      { kp: 0, x: 70, y: 6 },
      { kp: 1, x: 90, y: 5 },
      { kp: 2, x: 80, y: 9 },
    ]);
  });

  it('renames a keypoint whose partner the exemplar did not label (the partner has a higher index)', () => {
    // left_ear (3) labelled, right_ear (5) not: mirrored, the point is a right ear
    expect(mirrorKeypoints([{ kp: 3, x: 12, y: 4 }], 50, pairs)).toEqual([{ kp: 5, x: 38, y: 4 }]);
  });

  it('without pairs, names follow the pixels', () => {
    expect(mirrorKeypoints([{ kp: 1, x: 1, y: 2 }], 10, [])).toEqual([{ kp: 1, x: 9, y: 2 }]);
  });
});

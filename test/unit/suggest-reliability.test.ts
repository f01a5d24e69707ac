/** The reliability table of suggest-eval: confidence bins against PCK (pure code, hand-computed values). */
import { describe, expect, it } from 'vitest';
import { reliabilityTable } from '../../src/main/engine/suggest/reliability.js';

describe('reliabilityTable', () => {
  const points = [
    { confidence: 0.95, error: 0.01 },
    { confidence: 0.9, error: 0.07 },
    { confidence: 1, error: 0.2 },
    { confidence: 0.5, error: 0.04 },
    { confidence: 0.45, error: 0.3 },
    { confidence: 0, error: Infinity }, // nothing suggested
  ];
  const t = reliabilityTable(points, [0.05, 0.1]);

  it('bins points by confidence, the last bin including 1, with mean confidence and PCK', () => {
    expect(t.bins.map((b) => [b.from, b.to, b.points])).toEqual([
      [0, 0.2, 1],
      [0.2, 0.4, 0],
      [0.4, 0.6, 2],
      [0.6, 0.8, 0],
      [0.8, 1, 3],
    ]);
    const top = t.bins[4]!;
    expect(top.meanConfidence).toBeCloseTo((0.95 + 0.9 + 1) / 3, 12);
    expect(top.pck).toEqual({ '0.05': 1 / 3, '0.1': 2 / 3 });
    expect(t.bins[2]!.pck).toEqual({ '0.05': 0.5, '0.1': 0.5 });
    expect(t.bins[0]!.pck).toEqual({ '0.05': 0, '0.1': 0 });
    expect(t.bins[1]).toMatchObject({ points: 0, meanConfidence: 0, pck: { '0.05': 0, '0.1': 0 } });
  });

  it('at or above each bin: every suggestion from that confidence up', () => {
    expect(t.atLeast.map((r) => [r.from, r.points])).toEqual([
      [0, 6],
      [0.2, 5],
      [0.4, 5],
      [0.6, 3],
      [0.8, 3],
    ]);
    expect(t.atLeast[2]!.pck).toEqual({ '0.05': 2 / 5, '0.1': 3 / 5 });
  });
});

import { describe, expect, it } from 'vitest';
import { SERIES_PALETTE, seriesColours } from '../../src/renderer/src/lib/components/compare/series-colours.js';

/** Deterministic pseudo-random ids (a small LCG). */
function randomIds(seed: number, n: number, max: number): number[] {
  let s = seed;
  const out = new Set<number>();
  while (out.size < n) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out.add(1 + (s % max));
  }
  return [...out];
}

describe('series colours (one colour per prompt in every Compare chart and overlay)', () => {
  it('gives every prompt of a set its own colour, for any number of prompts', () => {
    for (let n = 1; n <= 40; n++) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      const colours = seriesColours(ids);
      expect(colours.size).toBe(n);
      expect(new Set(colours.values()).size).toBe(n);
    }
    // ids that point at the same palette entry (1, 11, 21) still differ
    for (const seed of [1, 2, 3, 4, 5]) {
      const ids = randomIds(seed, 8, 200);
      expect(new Set(seriesColours(ids).values()).size).toBe(8);
    }
    expect(new Set(seriesColours([1, 1 + SERIES_PALETTE.length, 1 + 2 * SERIES_PALETTE.length]).values()).size).toBe(3);
  });

  it('uses the palette while it lasts, its first entries first', () => {
    const colours = seriesColours([1, 2, 3]);
    expect([...colours.values()]).toEqual(SERIES_PALETTE.slice(0, 3));
    expect([...seriesColours(Array.from({ length: SERIES_PALETTE.length }, (_, i) => i + 1)).values()].sort()).toEqual([...SERIES_PALETTE].sort());
  });

  it('keeps a prompt’s colour stable: the same whatever else is shown, in any order, and when newer prompts arrive', () => {
    const all = [1, 2, 3, 4, 5, 6, 7];
    const full = seriesColours(all);
    // the same id, the same colour, however it is asked
    expect(seriesColours([4]).get(4)).toBe(full.get(4));
    expect(seriesColours([7, 2, 4]).get(4)).toBe(full.get(4));
    expect(seriesColours([...all].reverse())).toEqual(full);
    // newer prompts (higher ids, also ones colliding with older entries) never move older colours
    const more = seriesColours([...all, 11, 12, 30, 31, 45]);
    for (const id of all) expect(more.get(id)).toBe(full.get(id));
    // repeated calls agree
    expect(seriesColours(all)).toEqual(full);
  });

  it('ignores repeated ids', () => {
    expect(seriesColours([3, 3, 5, 3]).size).toBe(2);
  });
});

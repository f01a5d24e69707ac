import { describe, expect, it } from 'vitest';
import { flipIndex, flipPairsProblem, normaliseFlipPairs, pairsFromFlipIndex, remapFlipPairs } from '../../src/main/engine/datasets/flip-pairs.js';

describe('symmetric keypoint pairs', () => {
  const names = ['left_eye', 'right_eye', 'nose', 'left_ear', 'right_ear'];

  it('turns pairs into a flip index and back (YOLO flip_idx)', () => {
    const pairs: [number, number][] = [
      [4, 3],
      [0, 1],
    ];
    expect(flipIndex(pairs, 5)).toEqual([1, 0, 2, 4, 3]);
    expect(pairsFromFlipIndex([1, 0, 2, 4, 3])).toEqual({
      pairs: [
        [0, 1],
        [3, 4],
      ],
    });
    expect(normaliseFlipPairs(pairs, 5)).toEqual([
      [0, 1],
      [3, 4],
    ]);
  });

  it('refuses a flip index that is not its own inverse, naming the entry', () => {
    expect(pairsFromFlipIndex([1, 2, 0])).toEqual({ problem: "flip_idx[0] = 1 but flip_idx[1] = 2: the mirror of a keypoint's mirror must be itself" });
    expect(pairsFromFlipIndex([0, 5])).toEqual({ problem: 'flip_idx[1] = 5 is not one of the 2 keypoint indices' });
  });

  it('names the problem of a bad pair list', () => {
    expect(flipPairsProblem([[0, 1]], 5, names)).toBeNull();
    expect(flipPairsProblem([[0, 9]], 5, names)).toMatch(/pair 1 \[0, 9\] does not join two of the 5 keypoints/);
    expect(flipPairsProblem([[2, 2]], 5, names)).toMatch(/'nose' with itself/);
    expect(
      flipPairsProblem(
        [
          [0, 1],
          [1, 3],
        ],
        5,
        names,
      ),
    ).toMatch(/'right_eye' is in symmetric pairs 1 and 2/);
  });

  it('follows a schema edit: renumbered pairs stay, a pair losing a member goes', () => {
    const pairs: [number, number][] = [
      [0, 1],
      [3, 4],
    ];
    // old -> new: 0->4, 1->3, 2->0, 3->deleted, 4->1
    expect(remapFlipPairs(pairs, [4, 3, 0, null, 1])).toEqual([[3, 4]]);
  });
});

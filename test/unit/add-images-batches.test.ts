/** The add-images dialog's cutting of a selection into batches the engine accepts in one request each. */
import { describe, expect, it } from 'vitest';
import { MAX_ADD_IMAGES_FILES, MAX_ADD_IMAGES_REQUEST_BYTES, MAX_ADDED_IMAGE_BYTES } from '../../src/main/contract/dataset-images.js';
import { splitBatches } from '../../src/renderer/src/lib/batches.js';

const size = (n: number) => n;

describe('splitBatches', () => {
  it('keeps a selection within the limits in one batch', () => {
    expect(splitBatches([3, 4, 3], size, 10, 5)).toEqual([[3, 4, 3]]);
    expect(splitBatches([], size, 10, 5)).toEqual([]);
  });

  it('cuts by bytes and by count, in order', () => {
    expect(splitBatches([6, 4, 1, 9, 2], size, 10, 5)).toEqual([[6, 4], [1, 9], [2]]);
    expect(splitBatches([1, 1, 1, 1, 1], size, 100, 2)).toEqual([[1, 1], [1, 1], [1]]);
  });

  it('gives an item over the byte limit a batch of its own', () => {
    expect(splitBatches([2, 30, 2], size, 10, 5)).toEqual([[2], [30], [2]]);
  });

  it('fits a batch of files at the per-file limit within the request limit', () => {
    // two files at the per-file limit go in one request: the limits agree with each other
    expect(MAX_ADD_IMAGES_REQUEST_BYTES).toBeGreaterThanOrEqual(2 * MAX_ADDED_IMAGE_BYTES);
    const batches = splitBatches(
      Array.from({ length: 5 }, () => MAX_ADDED_IMAGE_BYTES),
      size,
      MAX_ADD_IMAGES_REQUEST_BYTES,
      MAX_ADD_IMAGES_FILES,
    );
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });
});

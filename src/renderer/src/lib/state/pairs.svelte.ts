/**
 * What the Pairs view does to a dataset's pairs: build them (a job), move them to another split,
 * delete them, and read one to preview. Each call rejects with the engine's error: the caller
 * says what failed the way it does (a toast, or the form's message next to the input). The list
 * itself pages through `PairPages`; the engine's `dataset:changed` event refreshes it.
 */
import type { InvokeArgs, InvokeResult, PairDetail, Split } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';

class Pairs {
  /** A pair with both images' keypoints. */
  get(id: number): Promise<PairDetail> {
    return getApi().invoke('pairs:get', { id });
  }

  /** Starts building pairs (random or chosen); the job's result says how many were made. */
  build(args: InvokeArgs<'pairs:build'>): Promise<InvokeResult<'pairs:build'>> {
    return getApi().invoke('pairs:build', args);
  }

  /** Moves pairs to a split. */
  setSplit(datasetId: number, ids: number[], split: Split): Promise<InvokeResult<'pairs:set-split'>> {
    return getApi().invoke('pairs:set-split', { datasetId, ids, split });
  }

  /** Deletes pairs (images and keypoints stay). */
  remove(datasetId: number, ids: number[]): Promise<InvokeResult<'pairs:delete'>> {
    return getApi().invoke('pairs:delete', { datasetId, ids });
  }
}

export const pairs = new Pairs();

/**
 * What the launch form asks `runs:estimate` (only the fields that decide memory, once they are
 * valid, whatever the rest of the form says, and always arguments the engine's schema accepts),
 * and how an estimate reads in the UI's memory line.
 */
import { describe, expect, it } from 'vitest';
import type { DatasetDetails, ModelInfo } from '../../src/main/contract/index.js';
import { trainEstimateSchema } from '../../src/main/contract/runs.js';
import { checkLaunch, defaultDraft, estimateArgs, type LaunchDraft } from '../../src/renderer/src/lib/components/runs/launch.js';
import { gigabytes, memorySummary } from '../../src/renderer/src/lib/format.js';

function model(id: number, kind: ModelInfo['kind']): ModelInfo {
  return {
    id,
    name: `${kind}-${id}`,
    kind,
    folder: `/models/${id}`,
    folderExists: true,
    facts: {},
    warnings: [],
    capabilities: null,
    compiled: null,
    provider: null,
    validatedAt: null,
    createdAt: 0,
    updatedAt: 0,
  };
}

const DATASET: DatasetDetails = {
  id: 1,
  name: 'spair',
  format: 'spair',
  root: '/data/spair',
  source: '',
  editable: false,
  images: 40,
  categories: 1,
  pairs: 25,
  annotations: 40,
  createdAt: 0,
  updatedAt: 0,
  keypoints: 300,
  pairsBySplit: { trn: 20, val: 5, test: 0 },
  pairPoints: 240,
  categoryList: [{ id: 1, datasetId: 1, name: 'cat', ordinal: 0, keypoints: [], skeleton: [], flipPairs: [], images: 40, annotated: 40, pairs: { trn: 20, val: 5, test: 0 } }],
  lastImport: null,
};

const ctx = { models: [model(1, 'stable-diffusion'), model(2, 'dinov2')], dataset: DATASET };
const draft = (over: Partial<LaunchDraft> = {}): LaunchDraft => ({ ...defaultDraft(), modelId: 1, dinoModelId: 2, datasetId: 1, ...over });
const args = (d: LaunchDraft) => estimateArgs(d, checkLaunch(d, ctx));

describe('estimateArgs', () => {
  it('takes the paper settings’ memory fields, in a form the engine accepts', () => {
    const a = args(draft());
    expect(a).toEqual({ modelId: 1, datasetId: 1, prompt: 'single', batch: 9, accumulate: 1, size: 768 });
    expect(trainEstimateSchema.parse(a)).toEqual(a);
    const cpm = args(draft({ prompt: 'cpm', category: 'cat', batch: '1', accumulate: '9', size: '512' }));
    expect(cpm).toEqual({ modelId: 1, dinoModelId: 2, datasetId: 1, prompt: 'cpm', category: 'cat', batch: 1, accumulate: 9, size: 512 });
    expect(trainEstimateSchema.safeParse(cpm).success).toBe(true);
  });

  it('estimates whatever the fields that do not decide memory say', () => {
    expect(args(draft({ steps: 'many', lr: '-1', name: 'x'.repeat(300) }))).toMatchObject({ batch: 9, size: 768 });
  });

  it('asks nothing while a field that decides memory is invalid', () => {
    for (const over of [{ batch: '0' }, { batch: '21' }, { accumulate: 'x' }, { size: '100' }, { modelId: null }, { datasetId: null }, { prompt: 'cpm' as const, dinoModelId: null }]) {
      expect(args(draft(over)), JSON.stringify(over)).toBeNull();
    }
  });
});

describe('the memory line', () => {
  it('writes decimal gigabytes as the engine does, finer below 0.1 GB', () => {
    expect(gigabytes(8.6e9)).toBe('8.6 GB');
    expect(gigabytes(21.4e9)).toBe('21 GB');
    expect(gigabytes(0.32e9)).toBe('0.3 GB');
    expect(gigabytes(0.016e9)).toBe('0.02 GB');
    expect(gigabytes(2.7e6)).toBe('< 0.01 GB');
    expect(gigabytes(0)).toBe('0 GB');
  });

  it('says what is needed against what is free, and what it is made of', () => {
    expect(memorySummary({ bytes: 8.6e9, weights: 4.5e9, activations: 3.9e9, available: 21e9 })).toBe('Memory: about 8.6 GB of 21 GB free (weights 4.5 GB, activations 3.9 GB)');
    expect(memorySummary({ bytes: 8.6e9, weights: 4.5e9, activations: 3.9e9, available: null })).toBe(
      'Memory: about 8.6 GB (weights 4.5 GB, activations 3.9 GB); the execution provider does not report its free memory',
    );
  });
});

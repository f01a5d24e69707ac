/**
 * The Runs view's launch-form check (renderer, `runs/launch.ts`): it must never accept what the
 * engine's schema (`trainLaunchSchema`) refuses, must accept the paper's settings, and says what
 * only the chosen dataset can tell (training pairs for the batch, validation pairs), per field.
 */
import { describe, expect, it } from 'vitest';
import type { CategoryInfo, DatasetDetails, ModelInfo } from '../../src/main/contract/index.js';
import { SEED_MAX, TRAIN_DEFAULTS, trainLaunchSchema } from '../../src/main/contract/runs.js';
import { TRAIN_DEFAULTS as ENGINE_DEFAULTS } from '../../src/main/engine/sd4match/training/train-config.js';
import { parseInvocation } from '../../src/main/transport/dispatch.js';
import { FieldError } from '../../src/main/shared/errors.js';
import { checkLaunch, defaultDraft, LAUNCH_FIELDS, type LaunchDraft, type LaunchField, NAME_MAX_LENGTH, PAPER_DEFAULTS, ruleText } from '../../src/renderer/src/lib/components/runs/launch.js';

function model(id: number, kind: ModelInfo['kind'], folderExists = true): ModelInfo {
  return {
    id,
    name: `${kind}-${id}`,
    kind,
    folder: `/models/${id}`,
    folderExists,
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

function category(name: string, trn: number, val: number): CategoryInfo {
  return { id: name.length, datasetId: 1, name, ordinal: 0, keypoints: [], skeleton: [], flipPairs: [], images: 10, annotated: 10, pairs: { trn, val, test: 0 } };
}

const DATASET: DatasetDetails = {
  id: 1,
  name: 'spair',
  format: 'spair',
  root: '/data/spair',
  source: '',
  editable: false,
  images: 40,
  categories: 2,
  pairs: 30,
  annotations: 40,
  createdAt: 0,
  updatedAt: 0,
  keypoints: 300,
  pairsBySplit: { trn: 20, val: 5, test: 5 },
  pairPoints: 240,
  categoryList: [category('cat', 20, 5), category('dog', 0, 0)],
  lastImport: null,
};

const MODELS = [model(1, 'stable-diffusion'), model(2, 'dinov2'), model(3, 'stable-diffusion', false)];
const ctx = { models: MODELS, dataset: DATASET };

/** The form with the paper's settings, a model and the dataset chosen. */
function draft(over: Partial<LaunchDraft> = {}): LaunchDraft {
  return { ...defaultDraft(), modelId: 1, datasetId: 1, ...over };
}

describe('checkLaunch', () => {
  it('accepts the paper settings and produces arguments the engine accepts unchanged', () => {
    const r = checkLaunch(draft({ name: '  my run ' }), ctx);
    expect(r.errors).toEqual({});
    expect(r.args).toEqual({
      modelId: 1,
      datasetId: 1,
      prompt: 'single',
      steps: 30000,
      batch: 9,
      lr: 0.01,
      schedule: 'constant',
      accumulate: 1,
      timestep: 261,
      size: 768,
      valEvery: 1000,
      valPairs: 200,
      checkpointEvery: 500,
      seed: 0,
      name: 'my run',
    });
    expect(trainLaunchSchema.parse(r.args)).toMatchObject(r.args!);
    // only 5 validation pairs: a note, not an error
    expect(r.notes.valPairs).toBe('Only 5 validation pairs: all of them are used.');
  });

  // every numeric field around and beyond its bounds, and text that is not a number
  const CASES: [LaunchField, string[]][] = [
    ['steps', ['0', '1', '1000000', '1000001', '-5', '1.5', '1e3', 'abc', '']],
    ['batch', ['0', '1', '20', '21', '64', '65']],
    ['accumulate', ['0', '1', '64', '65']],
    ['timestep', ['-1', '0', '999', '1000', '261.5']],
    ['size', ['0', '63', '64', '100', '768', '2048', '2049', '2112']],
    ['valEvery', ['0', '1', '1000000', '-1']],
    ['valPairs', ['0', '1', '200', '-1']],
    ['checkpointEvery', ['0', '1', '500', '1000000']],
    ['seed', ['0', '2147483647', '-1', '0.5']],
    ['lr', ['0', '-0.01', '0.01', '1e-2', '.5', '10', '10.5', 'nan', 'Infinity', '1e400']],
  ];
  for (const [field, values] of CASES) {
    it(`never accepts a ${field} the engine refuses, and names the field when it refuses one`, () => {
      for (const v of values) {
        const r = checkLaunch(draft({ [field]: v }), ctx);
        if (r.args) {
          expect(trainLaunchSchema.safeParse(r.args).success, `${field} = '${v}' accepted by the form but not the engine`).toBe(true);
        } else {
          expect(Object.keys(r.errors), `${field} = '${v}'`).toEqual([field]);
          expect(r.errors[field]).toMatch(/\w/);
        }
      }
    });
  }

  it('accepts in-range values the engine accepts', () => {
    for (const [field, v] of [
      ['steps', '1'],
      ['batch', '20'],
      ['size', '64'],
      ['size', '2048'],
      ['timestep', '0'],
      ['lr', '1e-2'],
      ['valEvery', '0'],
      ['seed', '2147483647'],
    ] as const) {
      const r = checkLaunch(draft({ [field]: v }), ctx);
      expect(r.errors, `${field} = ${v}`).toEqual({});
      expect(trainLaunchSchema.safeParse(r.args).success).toBe(true);
    }
  });

  it('says what the dataset cannot give: a batch above its training pairs, a category without pairs', () => {
    expect(checkLaunch(draft({ batch: '21' }), ctx).errors).toEqual({ batch: 'Larger than the 20 training pairs of spair.' });
    expect(checkLaunch(draft({ category: 'dog' }), ctx).errors).toEqual({ datasetId: 'category dog of spair has no training (trn) pairs.' });
    const cat = checkLaunch(draft({ category: 'cat', batch: '4' }), ctx);
    expect(cat.args).toMatchObject({ category: 'cat', batch: 4 });
    const noVal = checkLaunch(draft(), { models: MODELS, dataset: { ...DATASET, pairsBySplit: { trn: 20, val: 0, test: 5 } } });
    expect(noVal.errors).toEqual({});
    expect(noVal.notes.valEvery).toMatch(/has no validation pairs: no validation will run/);
  });

  it('needs a usable Stable Diffusion model, a DINOv2 model for CPM, and a dataset', () => {
    expect(checkLaunch(draft({ modelId: null }), ctx).errors.modelId).toBe('Choose a Stable Diffusion model (register one under Models).');
    expect(checkLaunch(draft({ modelId: 2 }), ctx).errors.modelId).toBe('Choose a Stable Diffusion model (register one under Models).');
    expect(checkLaunch(draft({ modelId: 3 }), ctx).errors.modelId).toBe('The folder of stable-diffusion-3 is missing: /models/3');
    expect(checkLaunch(draft({ prompt: 'cpm' }), ctx).errors).toEqual({ dinoModelId: 'CPM needs a DINOv2 model: choose one.' });
    expect(checkLaunch(draft({ prompt: 'cpm' }), { ...ctx, models: [MODELS[0]!] }).errors.dinoModelId).toBe('CPM needs a DINOv2 model: register one under Models first.');
    const cpm = checkLaunch(draft({ prompt: 'cpm', dinoModelId: 2 }), ctx);
    expect(cpm.args).toMatchObject({ prompt: 'cpm', dinoModelId: 2 });
    expect(trainLaunchSchema.safeParse(cpm.args).success).toBe(true);
    // a DINOv2 choice left over from CPM is not sent for a Single run
    expect(checkLaunch(draft({ dinoModelId: 2 }), ctx).args).not.toHaveProperty('dinoModelId');
    expect(checkLaunch(draft({ datasetId: null }), { models: MODELS, dataset: undefined }).errors).toEqual({ datasetId: 'Choose a dataset.' });
    expect(checkLaunch(draft({ name: 'x'.repeat(201) }), ctx).errors).toEqual({ name: 'At most 200 characters.' });
  });
});

describe('the launch form and the engine share one set of rules', () => {
  it("starts from the engine's defaults, which are the schema's", () => {
    expect(TRAIN_DEFAULTS).toBe(ENGINE_DEFAULTS);
    // what the schema fills in when a caller (the CLI, a script) leaves the settings out
    const filled = trainLaunchSchema.parse({ modelId: 1, datasetId: 1, prompt: 'single', steps: TRAIN_DEFAULTS.steps, batch: TRAIN_DEFAULTS.batch, lr: TRAIN_DEFAULTS.lr });
    const args = checkLaunch(draft(), ctx).args!;
    for (const k of ['schedule', 'accumulate', 'timestep', 'size', 'valEvery', 'valPairs', 'checkpointEvery', 'seed'] as const) {
      expect(args[k], k).toBe(filled[k]);
      expect(args[k], k).toBe(TRAIN_DEFAULTS[k]);
    }
    expect(PAPER_DEFAULTS).toMatchObject({ steps: '30000', batch: '9', lr: '0.01', timestep: '261', size: '768' });
    expect(NAME_MAX_LENGTH).toBe(200);
  });

  it('words each bound as the schema states it', () => {
    expect(ruleText('steps')).toBe('a whole number from 1 to 1,000,000');
    expect(ruleText('size')).toBe('a multiple of 64 from 64 to 2,048');
    expect(ruleText('lr')).toBe('a positive number up to 10');
    // no upper bound in the schema: the form invents none (it used to stop at 1,000,000)
    expect(ruleText('valEvery')).toBe('a whole number, at least 0');
    expect(ruleText('seed')).toBe(`a whole number from 0 to ${SEED_MAX.toLocaleString('en-US')}`);
  });

  // values on both sides of the bounds where the hand-copied rules had drifted, and others
  const PROBES: [LaunchField, number][] = [
    ['valEvery', 1_000_001],
    ['valEvery', 5_000_000],
    ['valPairs', 2_000_000],
    ['checkpointEvery', 2_000_000],
    ['seed', 2 ** 31],
    ['seed', SEED_MAX],
    ['seed', SEED_MAX + 1],
    ['seed', 2 ** 53],
    ['steps', 1_000_001],
    ['batch', 65],
    ['size', 832],
    ['size', 800],
    ['timestep', 999],
    ['timestep', 1000],
    ['lr', 10],
    ['lr', 10.01],
  ];
  for (const [field, value] of PROBES) {
    it(`decides ${field} = ${value} as the server does, naming the field when both refuse`, () => {
      const big = { ...DATASET, pairsBySplit: { trn: 100, val: 5, test: 5 } };
      const r = checkLaunch(draft({ [field]: String(value), batch: field === 'batch' ? String(value) : '9' }), { models: MODELS, dataset: big });
      const server = (() => {
        try {
          parseInvocation('runs:train', { modelId: 1, datasetId: 1, prompt: 'single', steps: 30000, batch: 9, lr: 0.01, [field]: value });
          return null;
        } catch (err) {
          return err;
        }
      })();
      if (server === null) {
        expect(r.errors, `${field} = ${value}: the server accepts it`).toEqual({});
        expect(r.args?.[field as keyof typeof r.args]).toBe(value);
      } else {
        expect(server).toBeInstanceOf(FieldError);
        expect((server as FieldError).field).toBe(field);
        expect(r.args).toBeNull();
        expect(Object.keys(r.errors)).toEqual([field]);
      }
    });
  }

  it('knows every argument of the schema as a form field', () => {
    expect([...LAUNCH_FIELDS].sort()).toEqual(Object.keys(trainLaunchSchema.shape).sort());
  });
});

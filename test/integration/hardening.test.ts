/**
 * Hostile or mistaken input at the import and the API (issue 22, items 7, 9 and 17): a keypoint
 * schema larger than the editor allows, NUL bytes in paths, unknown dataset ids, COCO ids JSON
 * numbers cannot carry exactly, a non-JSON file where JSON was expected, and error hints worded for
 * whoever asked (the CLI's flags, the import dialog's fields). Through the in-memory transport with
 * a real SQLite file and real images, and through the real CLI in a child process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeMethods, type JobInfo } from '../../src/main/contract/index.js';
import { IMPORT_DIALOG_LABELS, MAX_KEYPOINTS_PER_CATEGORY } from '../../src/main/contract/datasets.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { silentTask } from '../../src/main/engine/jobs/progress.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { writeCocoFile } from '../../src/main/services/datasets/coco-export.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { genCoco, genFolder, genPfPascal, genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { snapshotDb } from '../helpers/store-snapshot.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let tmp: string;
let dbFile: string;
let api: Api;
let client: InMemoryClient;
let cocoTemplate: string;
let counter = 0;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-hardening-'));
  dbFile = path.join(tmp, 'w.db');
  api = createApi({ db: dbFile });
  client = createInMemoryClient(api);
  api.context.services();
  cocoTemplate = path.join(tmp, 'coco-template');
  await genCoco(cocoTemplate);
});

afterAll(async () => {
  client?.close();
  await api?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

/** A fresh copy of the COCO template, its annotations.json edited by `edit`. */
function cocoCopy(edit?: (j: Record<string, unknown[]>) => void): string {
  const root = path.join(tmp, `coco-${++counter}`);
  fs.cpSync(cocoTemplate, root, { recursive: true });
  if (edit) {
    const file = path.join(root, 'annotations.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown[]>;
    edit(j);
    fs.writeFileSync(file, JSON.stringify(j));
  }
  return root;
}

/** Runs an import through the API that must fail; returns the job's error. */
async function importFails(args: Record<string, unknown>): Promise<NonNullable<JobInfo['error']>> {
  const { jobId } = await ok('datasets:import', args as never);
  const job = await finished(jobId);
  expect(job.state, JSON.stringify(job.result)).toBe('failed');
  return job.error!;
}

describe('keypoints per category: one limit for the importers and the schema editor', () => {
  it('refuses a COCO category with more keypoint names than the editor allows, naming file, category and count, before writing', async () => {
    const root = cocoCopy((j) => {
      const cat = j.categories![0] as { keypoints: string[]; skeleton: unknown[] };
      cat.keypoints = Array.from({ length: 1_000_000 }, (_, k) => `k${k}`);
    });
    const before = snapshotDb(dbFile);
    const t0 = performance.now();
    const err = await importFails({ format: 'coco', root });
    expect(err.code).toBe('DATASET_INVALID');
    expect(err.message).toMatch(new RegExp(`^annotations\\.json: categories\\[0\\]: category 'person' has 1000000 keypoints; at most ${MAX_KEYPOINTS_PER_CATEGORY} are allowed`));
    // refused while reading, not after checking every image and building a million rows
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('imports a category with exactly the limit', async () => {
    const root = cocoCopy((j) => {
      const cat = j.categories![1] as { keypoints: string[]; skeleton: unknown[] };
      cat.keypoints = Array.from({ length: MAX_KEYPOINTS_PER_CATEGORY }, (_, k) => `k${k}`);
      j.annotations = j.annotations!.filter((a) => (a as { category_id: number }).category_id !== 7);
    });
    const { jobId } = await ok('datasets:import', { format: 'coco', root, name: 'at the limit' });
    expect((await finished(jobId)).state).toBe('completed');
  });

  it('refuses SPair kps_ids that would make a category larger than the limit, naming the pair file', async () => {
    const root = path.join(tmp, 'spair-kps');
    await genSpair(root);
    const line = fs.readFileSync(path.join(root, 'Layout/large/trn.txt'), 'utf8').split('\n')[0]!;
    const file = path.join(root, `PairAnnotation/trn/${line}.json`);
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { kps_ids: number[] };
    j.kps_ids[0] = 999_999;
    fs.writeFileSync(file, JSON.stringify(j));
    const err = await importFails({ format: 'spair', root });
    expect(err.code).toBe('DATASET_INVALID');
    expect(err.message).toContain(`PairAnnotation/trn/${line}.json`);
    expect(err.message).toMatch(new RegExp(`kps_ids.*999999.*at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`));
  });

  it('refuses PF-Pascal annotations with more kps rows than the limit, naming the .mat file', async () => {
    const root = path.join(tmp, 'pfpascal-kps');
    await genPfPascal(root, { categories: ['dog'], imagesPerCategory: 2, pairs: { trn: 1, val: 1, test: 1 }, rows: MAX_KEYPOINTS_PER_CATEGORY + 1 });
    const err = await importFails({ format: 'pfpascal', root });
    expect(err.code).toBe('DATASET_INVALID');
    expect(err.message).toMatch(
      new RegExp(`^PF-dataset-PASCAL/Annotations/dog/\\w+\\.mat: .*variable 'kps' has ${MAX_KEYPOINTS_PER_CATEGORY + 1} rows; a category has at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`),
    );
  });

  it('the schema editor refuses one keypoint more than the limit, with the same number', async () => {
    const root = path.join(tmp, 'folder-schema');
    await genFolder(root);
    const { jobId } = await ok('datasets:import', { format: 'folder', root, name: 'schema' });
    const datasetId = ((await finished(jobId)).result as { datasetId: number }).datasetId;
    const categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
    const entries = (n: number) => Array.from({ length: n }, (_, k) => ({ name: `k${k}`, color: '#112233', from: null }));
    const err = await fail('categories:set-schema', { categoryId, keypoints: entries(MAX_KEYPOINTS_PER_CATEGORY + 1), skeleton: [] });
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(`at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`);
    await ok('categories:set-schema', { categoryId, keypoints: entries(MAX_KEYPOINTS_PER_CATEGORY), skeleton: [] });
  });
});

describe('a NUL byte in a path is INVALID_ARGUMENT, never INTERNAL', () => {
  it('through the API: import root and annotation file, export file, folder listing, model folder', async () => {
    const nul = path.join(tmp, 'a\0b');
    const cases: [string, Record<string, unknown>, string][] = [
      ['datasets:import', { format: 'folder', root: nul }, 'root'],
      ['datasets:import', { format: 'coco', root: tmp, annotations: `${nul}.json` }, 'annotations'],
      ['datasets:export-coco', { id: 1, file: `${nul}.json` }, 'file'],
      ['datasets:export', { datasetId: 1, format: 'dlc', out: nul }, 'out'],
      ['files:list', { dir: nul }, 'dir'],
      ['models:validate', { kind: 'stable-diffusion', folder: nul }, 'folder'],
      ['models:add', { kind: 'dinov2', folder: nul }, 'folder'],
    ];
    for (const [method, args, field] of cases) {
      const err = await fail(method as never, args);
      expect(err, method).toMatchObject({ code: 'INVALID_ARGUMENT', field });
      expect(err.message, method).toMatch(/NUL byte/);
    }
  });

  it('in the services the CLI calls (argv itself cannot carry a NUL byte)', async () => {
    const store = Store.open(path.join(tmp, 'cli-nul.db'));
    try {
      await expect(importDataset(store, { format: 'folder', root: path.join(tmp, 'a\0b') }, silentTask())).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/NUL byte/),
      });
      const root = cocoCopy();
      await expect(importDataset(store, { format: 'coco', root, annotations: path.join(root, 'x\0.json') })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/NUL byte/),
      });
      const { datasetId } = await importDataset(store, { format: 'coco', root });
      expect(() => store.readSync((db) => writeCocoFile(db, datasetId, path.join(tmp, 'out\0.json')))).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/NUL byte/) }),
      );
    } finally {
      store.close();
    }
  });

  it('the CLI names the COCO entry whose file_name holds a NUL byte', async () => {
    const root = cocoCopy((j) => {
      (j.images![1] as { file_name: string }).file_name = 'images/a\0b.jpg';
    });
    const r = await runCli(['--db', path.join(tmp, 'cli.db'), 'import', '--format', 'coco', '--root', root, '--quiet']);
    expectCleanFailure(r, /annotations\.json: image id 101: file_name .* is refused: the path contains a NUL byte/);
  });
});

describe('an unknown dataset id is NOT_FOUND on every channel that takes one', () => {
  const UNKNOWN = 987_654;
  let modelId = 0;
  let baselineId = 0;

  beforeAll(async () => {
    if (!HAVE_FIXTURES) return;
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd'));
    const store = Store.open(dbFile);
    try {
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    baselineId = (await ok('prompts:list', {})).find((p) => p.baseline === 'empty')!.id;
  });

  /** Arguments valid in every respect but the dataset id, per channel. */
  const CALLS: Record<string, () => Record<string, unknown>> = {
    'datasets:get': () => ({ id: UNKNOWN }),
    'datasets:delete': () => ({ id: UNKNOWN }),
    'datasets:export-coco': () => ({ id: UNKNOWN, file: path.join(tmp, 'unknown.json') }),
    'datasets:export': () => ({ datasetId: UNKNOWN, format: 'yolo', out: path.join(tmp, 'unknown-yolo') }),
    'datasets:add-images': () => ({ datasetId: UNKNOWN, files: [{ name: 'a.png', data: 'iVBORw0KGgo=' }] }),
    'images:list': () => ({ datasetId: UNKNOWN }),
    'images:locate': () => ({ datasetId: UNKNOWN, imageId: 1 }),
    'pairs:list': () => ({ datasetId: UNKNOWN }),
    'pairs:build': () => ({ datasetId: UNKNOWN, categoryId: 1, mode: 'all', split: 'trn' }),
    'pairs:set-split': () => ({ datasetId: UNKNOWN, ids: [1], split: 'val' }),
    'pairs:delete': () => ({ datasetId: UNKNOWN, ids: [1] }),
    'prompts:list': () => ({ datasetId: UNKNOWN }),
    'evals:table': () => ({ datasetId: UNKNOWN }),
    'evals:csv': () => ({ datasetId: UNKNOWN }),
    'evals:sweeps': () => ({ datasetId: UNKNOWN }),
    'compare:pairs': () => ({ datasetId: UNKNOWN }),
    'runs:train': () => ({ modelId, datasetId: UNKNOWN, prompt: 'single', steps: 2, batch: 1, lr: 0.01, size: 64 }),
    'runs:estimate': () => ({ modelId, datasetId: UNKNOWN, prompt: 'single', batch: 1, size: 64 }),
    'evals:start': () => ({ modelId, datasetId: UNKNOWN, promptId: baselineId, size: 64 }),
    'evals:sweep': () => ({ modelId, datasetId: UNKNOWN, promptIds: [baselineId], size: 64 }),
  };
  const NEED_MODEL = new Set(['runs:train', 'runs:estimate', 'evals:start', 'evals:sweep']);

  it('every method whose arguments hold a dataset id has a row here', () => {
    const takesDataset = Object.entries(invokeMethods)
      .filter(([, m]) => {
        const shape = (m.args as unknown as { shape?: Record<string, unknown> }).shape ?? {};
        return 'datasetId' in shape;
      })
      .map(([name]) => name);
    expect(takesDataset.length).toBeGreaterThan(10);
    for (const name of takesDataset) expect(Object.keys(CALLS), `${name} takes a datasetId`).toContain(name);
  });

  it.each(Object.keys(CALLS))('%s', async (method) => {
    if (NEED_MODEL.has(method) && !HAVE_FIXTURES) return;
    const err = await fail(method as never, CALLS[method]!());
    expect(err.code, err.message).toBe('NOT_FOUND');
    expect(err.message).toMatch(new RegExp(`no dataset with id ${UNKNOWN}`));
  });
});

describe('COCO ids beyond what a JSON number carries exactly', () => {
  it('are refused with the entry named, not reported as duplicates', async () => {
    const root = cocoCopy((j) => {
      (j.images![0] as { id: unknown }).id = 2 ** 53 + 2;
      (j.images![1] as { id: unknown }).id = 2 ** 53 + 4;
      j.annotations = j.annotations!.filter((a) => ![100, 101].includes((a as { image_id: number }).image_id));
    });
    const err = await importFails({ format: 'coco', root });
    expect(err.message).not.toMatch(/appears twice/);
    expect(err.message).toMatch(/^annotations\.json: images\[0\]: id 9007199254740994 is larger than 9007199254740991/);
    expect(err.message).toMatch(/\(and 1 more problem/);
  });

  it('in annotations and categories too', async () => {
    const root = cocoCopy((j) => {
      (j.annotations![0] as { id: unknown }).id = 2 ** 60;
    });
    expect((await importFails({ format: 'coco', root })).message).toMatch(/annotations\[0\]: id 1152921504606846976 is larger than 9007199254740991/);
    const root2 = cocoCopy((j) => {
      (j.categories![0] as { id: unknown }).id = 2 ** 60;
    });
    expect((await importFails({ format: 'coco', root: root2 })).message).toMatch(/categories\[0\]: id 1152921504606846976 is larger than 9007199254740991/);
  });
});

describe('an annotation file that is not JSON', () => {
  it('says what the file seems to be, without echoing its bytes', async () => {
    const root = cocoCopy();
    const jpeg = path.join(root, 'photo.json');
    fs.writeFileSync(
      jpeg,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
        .jpeg()
        .toBuffer(),
    );
    const e1 = await importFails({ format: 'coco', root, annotations: jpeg });
    expect(e1.message).toMatch(/photo\.json: not a JSON file: it looks like a JPEG image/);
    expect(e1.message).not.toMatch(/JFIF|\uFFFD|Unexpected token/);

    const zip = path.join(root, 'archive.json');
    fs.writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(40, 7), Buffer.from('secret-name.txt')]));
    const e2 = await importFails({ format: 'coco', root, annotations: zip });
    expect(e2.message).toMatch(/archive\.json: not a JSON file: it looks like a ZIP archive/);
    expect(e2.message).not.toContain('secret');

    const text = path.join(root, 'notes.json');
    fs.writeFileSync(text, 'password=hunter2\nsecond line\n');
    const e3 = await importFails({ format: 'coco', root, annotations: text });
    expect(e3.message).toMatch(/notes\.json: not a JSON file: it starts with text that is not JSON \(line 1, column 1\)/);
    expect(e3.message).not.toContain('hunter2');
  });

  it('a malformed JSON file gets the line and column, not a snippet', async () => {
    const root = cocoCopy();
    fs.writeFileSync(path.join(root, 'annotations.json'), '{"images": [], "annotations": [],\n "categories": [ {"name": "password-hunter2" ]}');
    const err = await importFails({ format: 'coco', root });
    expect(err.message).toMatch(/annotations\.json: malformed JSON: .*line 2, column \d+/);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('hints follow whoever asked: the CLI names its flags, the import dialog its fields', () => {
  /** A COCO copy with two annotations that fail (visibility 5). */
  function twoBadAnnotations(): string {
    return cocoCopy((j) => {
      for (const a of j.annotations!.slice(0, 2) as { keypoints: number[] }[]) a.keypoints[2] = 5;
    });
  }

  it('the dialog is told to tick its checkbox', async () => {
    const err = await importFails({ format: 'coco', root: twoBadAnnotations() });
    expect(err.message).toContain(`(and 1 more problem; tick “${IMPORT_DIALOG_LABELS.skipInvalid}” to import the rest)`);
    expect(err.message).not.toContain('--skip-invalid');
  });

  it('the CLI is told about --skip-invalid', async () => {
    const r = await runCli(['--db', path.join(tmp, 'cli.db'), 'import', '--format', 'coco', '--root', twoBadAnnotations(), '--quiet']);
    expectCleanFailure(r, /\(and 1 more problem; skip invalid entries with --skip-invalid to import the rest\)/);
  });

  /** COCO whose file_names are relative to images/ while the JSON sits in the root. */
  function imagesInSubfolder(): string {
    return cocoCopy((j) => {
      for (const img of j.images as { file_name: string }[]) img.file_name = img.file_name.replace(/^images\//, '');
    });
  }

  it('images in a sub-folder next to the JSON: the dialog is told which folder to choose', async () => {
    const root = imagesInSubfolder();
    const err = await importFails({ format: 'coco', root });
    expect(err.code).toBe('NOT_FOUND');
    const real = fs.realpathSync(root);
    expect(err.message).toContain(
      `The images seem to be in ${path.join(real, 'images')}${path.sep}: choose that folder as the “${IMPORT_DIALOG_LABELS.root}” and ${path.join(real, 'annotations.json')} as the “${IMPORT_DIALOG_LABELS.annotations}”.`,
    );
  });

  it('images in a sub-folder next to the JSON: the CLI is told which options to pass', async () => {
    const root = imagesInSubfolder();
    const real = fs.realpathSync(root);
    const r = await runCli(['--db', path.join(tmp, 'cli.db'), 'import', '--format', 'coco', '--root', root, '--quiet']);
    expectCleanFailure(r, /image file is missing/);
    expect(r.stderr).toContain(`The images seem to be in ${path.join(real, 'images')}${path.sep}: pass --root ${path.join(real, 'images')} --annotations ${path.join(real, 'annotations.json')}.`);
  });

  it('the CLI wording stays the default for callers that say nothing', async () => {
    const store = Store.open(path.join(tmp, 'default-wording.db'));
    try {
      await expect(importDataset(store, { format: 'coco', root: twoBadAnnotations() })).rejects.toThrow(/--skip-invalid/);
    } finally {
      store.close();
    }
  });
});

/**
 * The workstation's datasets, annotation, pairs and models API over the in-memory transport
 * (the same validation and {result}/{error} encoding as IPC and WebSocket) with a temp SQLite file,
 * generated datasets with real images, and the tiny model fixtures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnnotationState, EventName, EventPayload, InvokeArgs, JobInfo } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { genFolder, genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { snapshotDb } from '../helpers/store-snapshot.js';
import { apiCalls } from '../helpers/api-calls.js';

let tmp: string;
let dbFile: string;
let api: Api;
let client: InMemoryClient;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-ws-api-'));
  dbFile = path.join(tmp, 'w.db');
  api = createApi({ db: dbFile });
  client = createInMemoryClient(api);
  // opens (creates) the database, so snapshots can compare it
  api.context.services();
});

afterAll(async () => {
  client.close();
  await api.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

function collect<E extends EventName>(event: E): EventPayload<E>[] {
  const seen: EventPayload<E>[] = [];
  client.on(event, (p) => seen.push(p));
  return seen;
}

async function importFolder(root: string, name?: string): Promise<number> {
  const { jobId } = await ok('datasets:import', { format: 'folder', root, ...(name ? { name } : {}) });
  const job = await finished(jobId);
  expect(job.state).toBe('completed');
  return (job.result as { datasetId: number }).datasetId;
}

describe('datasets', () => {
  it('refuses an import folder that does not exist, naming the field, and writes nothing', async () => {
    const before = snapshotDb(dbFile);
    const err = await fail('datasets:import', { format: 'folder', root: path.join(tmp, 'absent') });
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'root', message: expect.stringMatching(/absent does not exist/) });
    const blank = await fail('datasets:import', { format: 'folder', root: '   ' });
    expect(blank).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'root' });
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('imports a folder as a job with progress and a report, and tells every window', async () => {
    const root = path.join(tmp, 'birds');
    await genFolder(root, { images: 5 });
    const changed = collect('dataset:changed');
    const updates: JobInfo[] = [];
    const off = client.on('job:updated', (j) => updates.push(j));
    const { jobId } = await ok('datasets:import', { format: 'folder', root });
    const job = await finished(jobId);
    off();
    expect(job).toMatchObject({ kind: 'import', state: 'completed', result: { images: 5, categories: 1, name: 'birds', format: 'folder' } });
    expect(updates.some((u) => u.progress !== null)).toBe(true);
    const id = (job.result as { datasetId: number }).datasetId;
    expect(changed).toContainEqual({ id, reason: 'imported' });
    const list = await ok('datasets:list');
    expect(list).toEqual([expect.objectContaining({ id, name: 'birds', format: 'folder', editable: true, images: 5 })]);
    const details = await ok('datasets:get', { id });
    expect(details.categoryList).toEqual([expect.objectContaining({ name: 'birds', keypoints: [], images: 5, annotated: 0 })]);
    expect(details.lastImport).toMatchObject({ images: 5, skipped: [{ file: 'notes.txt' }] });
  });

  it('cancels an import, leaving the database as it was', async () => {
    const root = path.join(tmp, 'many');
    await genFolder(root, { images: 120, seed: 9 });
    const before = snapshotDb(dbFile);
    const { jobId } = await ok('datasets:import', { format: 'folder', root });
    expect(await ok('jobs:cancel', { id: jobId })).toEqual({ cancelled: true });
    const job = await finished(jobId);
    expect(job).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED' } });
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('refuses a name already in use, naming the field', async () => {
    const other = path.join(tmp, 'other');
    await genFolder(other, { images: 1 });
    expect(await fail('datasets:import', { format: 'folder', root: other, name: 'birds' })).toMatchObject({ code: 'CONFLICT', field: 'name' });
  });

  it('lists images a page at a time with keypoint counts, filters and search, and locates one', async () => {
    const [d] = await ok('datasets:list');
    const page1 = await ok('images:list', { datasetId: d!.id, limit: 2 });
    expect(page1.total).toBe(5);
    expect(page1.items.map((i) => i.path)).toEqual(['img_0.jpg', 'img_1.png']);
    const page2 = await ok('images:list', { datasetId: d!.id, offset: 4, limit: 2 });
    expect(page2.items.map((i) => i.path)).toEqual(['more/img_2.jpg']);
    const search = await ok('images:list', { datasetId: d!.id, search: 'MORE/' });
    expect(search.items.map((i) => i.path)).toEqual(['more/img_2.jpg']);
    expect((await ok('images:list', { datasetId: d!.id, search: '%' })).total).toBe(0);
    expect((await ok('images:list', { datasetId: d!.id, filter: 'annotated' })).total).toBe(0);
    const target = page2.items[0]!;
    expect(await ok('images:locate', { datasetId: d!.id, imageId: target.id })).toEqual({ index: 4 });
    expect(await ok('images:locate', { datasetId: d!.id, imageId: target.id, filter: 'annotated' })).toEqual({ index: -1 });
    const detail = await ok('images:get', { id: target.id });
    expect(detail).toMatchObject({ id: target.id, path: target.path, annotations: [] });
  });

  it('exports COCO, refusing to overwrite unless asked', async () => {
    const [d] = await ok('datasets:list');
    const file = path.join(tmp, 'birds-coco.json');
    const r = await ok('datasets:export-coco', { id: d!.id, file });
    expect(r).toMatchObject({ file, images: 5 });
    expect(await fail('datasets:export-coco', { id: d!.id, file })).toMatchObject({ code: 'CONFLICT', field: 'file' });
    expect(await ok('datasets:export-coco', { id: d!.id, file, overwrite: true })).toMatchObject({ images: 5 });
    expect(await fail('datasets:export-coco', { id: d!.id, file: path.join(tmp, 'no-such-dir', 'x.json') })).toMatchObject({ code: 'NOT_FOUND', field: 'file' });
  });

  it('lists folders for the path pickers', async () => {
    const listing = await ok('files:list', { dir: tmp });
    expect(listing.dir).toBe(fs.realpathSync(tmp));
    expect(listing.entries).toContainEqual({ name: 'birds', kind: 'dir' });
    expect(listing.entries.some((e) => e.kind === 'file')).toBe(false);
    const withJson = await ok('files:list', { dir: tmp, files: 'json' });
    expect(withJson.entries).toContainEqual({ name: 'birds-coco.json', kind: 'file' });
    expect(await fail('files:list', { dir: path.join(tmp, 'absent') })).toMatchObject({ code: 'NOT_FOUND', field: 'dir' });
  });

  it('says where its database is', async () => {
    expect(await ok('app:paths')).toEqual({ database: dbFile, cacheDir: `${dbFile}-cache`, source: 'option' });
  });
});

describe('deleting a dataset', () => {
  it('removes it with its images and tells every window; the files stay', async () => {
    const root = path.join(tmp, 'doomed');
    await genFolder(root, { images: 2, seed: 4 });
    const id = await importFolder(root);
    const changed = collect('dataset:changed');
    const r = await ok('datasets:delete', { id });
    expect(r.deleted).toMatchObject({ images: 2, categories: 1 });
    expect(changed).toEqual([{ id, reason: 'deleted' }]);
    expect((await ok('datasets:list')).some((d) => d.id === id)).toBe(false);
    expect(fs.existsSync(path.join(root, 'img_0.jpg'))).toBe(true);
    expect(await fail('datasets:delete', { id })).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('keypoint schema', () => {
  let categoryId: number;
  beforeAll(async () => {
    const [d] = await ok('datasets:list');
    categoryId = (await ok('datasets:get', { id: d!.id })).categoryList[0]!.id;
  });

  it.each([
    ['an empty name', [{ name: ' ', color: '#112233' }], [], 'keypoints.0.name', /keypoint 1 has no name/],
    [
      'duplicate names (case-insensitive)',
      [
        { name: 'Eye', color: '#112233' },
        { name: 'eye ', color: '#445566' },
      ],
      [],
      'keypoints.1.name',
      /both named 'eye'/,
    ],
    ['a colour that is not #rrggbb', [{ name: 'a', color: 'red' }], [], 'keypoints.0.color', /#rrggbb/],
    [
      'an edge to itself',
      [
        { name: 'a', color: '#112233' },
        { name: 'b', color: '#112233' },
      ],
      [[1, 1]],
      'skeleton.0',
      /to itself/,
    ],
    [
      'an edge listed twice',
      [
        { name: 'a', color: '#112233' },
        { name: 'b', color: '#112233' },
      ],
      [
        [0, 1],
        [1, 0],
      ],
      'skeleton.1',
      /listed twice/,
    ],
    ['an edge to a missing keypoint', [{ name: 'a', color: '#112233' }], [[0, 3]], 'skeleton.0', /does not join/],
  ] as const)('refuses %s, naming the entry, and saves nothing', async (_what, keypoints, skeleton, field, message) => {
    const before = snapshotDb(dbFile);
    const err = await fail('categories:set-schema', { categoryId, keypoints, skeleton });
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringMatching(message) });
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('saves ordered names, colours and a skeleton', async () => {
    const changed = collect('dataset:changed');
    const r = await ok('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: ' beak ', color: '#E6194B' },
        { name: 'eye', color: '#3cb44b' },
        { name: 'tail', color: '#ffe119' },
        { name: 'foot', color: '#4363d8' },
      ],
      skeleton: [
        [0, 1],
        [2, 3],
      ],
    });
    expect(r.category.keypoints).toEqual([
      { name: 'beak', color: '#e6194b' },
      { name: 'eye', color: '#3cb44b' },
      { name: 'tail', color: '#ffe119' },
      { name: 'foot', color: '#4363d8' },
    ]);
    expect(r.category.skeleton).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(changed).toEqual([{ id: r.category.datasetId, reason: 'schema' }]);
  });

  const lr = [
    { name: 'left_eye', color: '#112233' },
    { name: 'right_eye', color: '#112233' },
    { name: 'nose', color: '#112233' },
    { name: 'left_ear', color: '#112233' },
  ];
  it.each([
    ['a pair to a missing keypoint', [[0, 7]], 'flipPairs.0', /does not join two of the 4 keypoints/],
    ['a keypoint paired with itself', [[2, 2]], 'flipPairs.0', /'nose' with itself/],
    [
      'a keypoint in two pairs',
      [
        [0, 1],
        [3, 0],
      ],
      'flipPairs.1',
      /'left_eye' is in symmetric pairs 1 and 2/,
    ],
  ] as const)('refuses symmetric pairs with %s, naming the entry, and saves nothing', async (_what, flipPairs, field, message) => {
    const before = snapshotDb(dbFile);
    const err = await fail('categories:set-schema', { categoryId, keypoints: lr, skeleton: [], flipPairs });
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringMatching(message) });
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('saves symmetric pairs, and pairs not sent follow renamed, reordered and deleted entries', async () => {
    const saved = await ok('categories:set-schema', { categoryId, keypoints: lr, skeleton: [], flipPairs: [[1, 0]] });
    expect(saved.category.flipPairs).toEqual([[0, 1]]);
    // a client that sends no pairs (an older window, a script) keeps them, renumbered
    const moved = await ok('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'nose', color: '#112233', from: 2 },
        { name: 'right_eye', color: '#112233', from: 1 },
        { name: 'left_eye', color: '#112233', from: 0 },
      ],
      skeleton: [],
    });
    expect(moved.category.flipPairs).toEqual([[1, 2]]);
    const dropped = await ok('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'nose', color: '#112233', from: 0 },
        { name: 'left_eye', color: '#112233', from: 2 },
      ],
      skeleton: [],
    });
    expect(dropped.category.flipPairs).toEqual([]);
    const cleared = await ok('categories:set-schema', { categoryId, keypoints: lr, skeleton: [], flipPairs: [] });
    expect(cleared.category.flipPairs).toEqual([]);
    // the schema the next tests label with
    await ok('categories:set-schema', {
      categoryId,
      keypoints: ['beak', 'eye', 'tail', 'foot'].map((name, i) => ({ name, color: ['#e6194b', '#3cb44b', '#ffe119', '#4363d8'][i]! })),
      skeleton: [
        [0, 1],
        [2, 3],
      ],
    });
  });
});

describe('annotations with undo and redo in the store', () => {
  let datasetId: number;
  let categoryId: number;
  let images: { id: number; width: number; height: number; path: string }[];
  beforeAll(async () => {
    const [d] = await ok('datasets:list');
    datasetId = d!.id;
    categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
    images = (await ok('images:list', { datasetId })).items;
  });

  const key = (i: number) => ({ imageId: images[i]!.id, categoryId });

  it('saves whole states, steps back and forth, and keeps the history when the engine restarts', async () => {
    const events = collect('annotation:changed');
    let s = await ok('annotations:get', key(0));
    expect(s).toMatchObject({ keypoints: [], version: 0, canUndo: false, canRedo: false });
    s = await ok('annotations:save', { ...key(0), keypoints: [{ kp: 0, x: 10.5, y: 12, visibility: 2 }], baseVersion: s.version, action: 'place beak' });
    s = await ok('annotations:save', {
      ...key(0),
      keypoints: [
        { kp: 1, x: 20, y: 8, visibility: 1 },
        { kp: 0, x: 10.5, y: 12, visibility: 2 },
      ],
      baseVersion: s.version,
      action: 'place eye',
    });
    expect(s).toMatchObject({ version: 2, canUndo: true, canRedo: false, undoAction: 'place eye', keypoints: [{ kp: 0 }, { kp: 1, visibility: 1 }] });
    s = await ok('annotations:undo', { ...key(0), baseVersion: s.version });
    expect(s).toMatchObject({ keypoints: [{ kp: 0, x: 10.5, y: 12, visibility: 2 }], canUndo: true, canRedo: true, undoAction: 'place beak', redoAction: 'place eye' });
    expect(events.at(-1)).toEqual({ datasetId, ...key(0), instance: 0, version: s.version, keypoints: 1 });

    // A new engine on the same database: the redo step is still there.
    const again = createApi({ db: dbFile });
    const other = createInMemoryClient(again);
    try {
      const e = await other.invoke('annotations:redo', { ...key(0), baseVersion: s.version });
      if ('error' in e) throw new Error(e.error.message);
      expect(e.result.keypoints).toEqual([
        { kp: 0, x: 10.5, y: 12, visibility: 2 },
        { kp: 1, x: 20, y: 8, visibility: 1 },
      ]);
      expect(e.result.canRedo).toBe(false);
    } finally {
      other.close();
      await again.close();
    }
    s = await ok('annotations:get', key(0));
    expect(s.keypoints).toHaveLength(2);
    expect((await ok('images:get', { id: key(0).imageId })).annotations).toEqual([expect.objectContaining({ categoryId, instance: 0, keypoints: s.keypoints })]);
  });

  it('a save after an undo drops the redo branch', async () => {
    let s = await ok('annotations:get', key(0));
    s = await ok('annotations:undo', { ...key(0), baseVersion: s.version });
    expect(s.canRedo).toBe(true);
    s = await ok('annotations:save', { ...key(0), keypoints: [...s.keypoints, { kp: 3, x: 5, y: 5, visibility: 2 }], baseVersion: s.version, action: 'place foot' });
    expect(s).toMatchObject({ canRedo: false, redoAction: null, undoAction: 'place foot' });
  });

  it('refuses a save based on an old version (another window) and writes nothing', async () => {
    const s = await ok('annotations:get', key(0));
    const before = snapshotDb(dbFile);
    const err = await fail('annotations:save', { ...key(0), keypoints: [], baseVersion: s.version - 1, action: 'clear' });
    expect(err).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/another window/) });
    expect(await fail('annotations:undo', { ...key(0), baseVersion: s.version + 5 })).toMatchObject({ code: 'CONFLICT' });
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('refuses keypoints outside the image, outside the schema, or twice', async () => {
    const s = await ok('annotations:get', key(1));
    const { width } = images[1]!;
    expect(await fail('annotations:save', { ...key(1), keypoints: [{ kp: 0, x: width + 1, y: 1, visibility: 2 }], baseVersion: s.version })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/'beak' .* lies outside the image/),
    });
    expect(await fail('annotations:save', { ...key(1), keypoints: [{ kp: 4, x: 1, y: 1, visibility: 2 }], baseVersion: s.version })).toMatchObject({
      message: expect.stringMatching(/index 4 is not in the schema .*4 keypoints/),
    });
    expect(
      await fail('annotations:save', {
        ...key(1),
        keypoints: [
          { kp: 0, x: 1, y: 1, visibility: 2 },
          { kp: 0, x: 2, y: 2, visibility: 1 },
        ],
        baseVersion: s.version,
      }),
    ).toMatchObject({ message: expect.stringMatching(/appears twice/) });
    expect(await fail('annotations:save', { ...key(1), keypoints: [{ kp: 0, x: 1, y: 1, visibility: 0 }], baseVersion: s.version })).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('undo steps back from a change made outside the editor (an import, the CLI)', async () => {
    await ok('annotations:save', { ...key(2), keypoints: [{ kp: 2, x: 3, y: 4, visibility: 2 }], baseVersion: 0, action: 'place tail' });
    const raw = new Database(dbFile);
    raw.prepare('UPDATE keypoints SET x = 7 WHERE annotation_id = (SELECT id FROM annotations WHERE image_id = ? AND category_id = ?)').run(key(2).imageId, categoryId);
    raw.close();
    let s = await ok('annotations:get', key(2));
    expect(s).toMatchObject({ keypoints: [{ kp: 2, x: 7 }], canUndo: true, undoAction: 'changed outside the editor' });
    s = await ok('annotations:undo', { ...key(2), baseVersion: s.version });
    expect(s.keypoints).toEqual([{ kp: 2, x: 3, y: 4, visibility: 2 }]);
    s = await ok('annotations:redo', { ...key(2), baseVersion: s.version });
    expect(s.keypoints).toEqual([{ kp: 2, x: 7, y: 4, visibility: 2 }]);
  });

  it('keypoints and undo history follow a reordered and shortened schema', async () => {
    // image 0 has beak (0) and foot (3); image 2 has tail (2)
    const before = await ok('annotations:get', key(0));
    expect(before.keypoints.map((k) => k.kp)).toEqual([0, 3]);
    const r = await ok('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'foot', color: '#4363d8', from: 3 },
        { name: 'beak', color: '#e6194b', from: 0 },
        { name: 'crest', color: '#ffffff', from: null },
      ],
      skeleton: [[1, 2]],
    });
    expect(r).toMatchObject({ removed: 1, renumbered: 2 });
    expect((await ok('annotations:get', key(2))).keypoints).toEqual([]);
    const after = await ok('annotations:get', key(0));
    expect(after.keypoints).toEqual([
      { kp: 0, x: 5, y: 5, visibility: 2 },
      { kp: 1, x: 10.5, y: 12, visibility: 2 },
    ]);
    // undo brings back the renumbered state before 'place foot' (beak only), not a deleted eye
    const undone = await ok('annotations:undo', { ...key(0), baseVersion: after.version });
    expect(undone.keypoints).toEqual([{ kp: 1, x: 10.5, y: 12, visibility: 2 }]);
    await ok('annotations:redo', { ...key(0), baseVersion: undone.version });
  });

  it('refuses edits of benchmark keypoints', async () => {
    const root = path.join(tmp, 'SPair-71k');
    await genSpair(root, { categories: ['cat'], imagesPerCategory: 3, pairs: { trn: 2, val: 0, test: 1 } });
    const { jobId } = await ok('datasets:import', { format: 'spair', root });
    const job = await finished(jobId);
    const spairId = (job.result as { datasetId: number }).datasetId;
    const details = await ok('datasets:get', { id: spairId });
    expect(details.editable).toBe(false);
    const img = (await ok('images:list', { datasetId: spairId, limit: 1 })).items[0]!;
    const cat = details.categoryList[0]!;
    const state: AnnotationState = await ok('annotations:get', { imageId: img.id, categoryId: cat.id });
    expect(await fail('annotations:save', { imageId: img.id, categoryId: cat.id, keypoints: [], baseVersion: state.version })).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringMatching(/read-only/),
    });
    expect(await fail('categories:set-schema', { categoryId: cat.id, keypoints: [], skeleton: [] })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await fail('annotations:get', { imageId: img.id, categoryId })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/does not belong/) });
  });
});

describe('pairs built from annotations', () => {
  let datasetId: number;
  let categoryId: number;
  let ids: number[];

  beforeAll(async () => {
    const root = path.join(tmp, 'pairs-folder');
    await genFolder(root, { images: 6, seed: 5 });
    datasetId = await importFolder(root, 'pairs');
    categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
    await ok('categories:set-schema', {
      categoryId,
      keypoints: ['a', 'b', 'c'].map((name) => ({ name, color: '#123456' })),
      skeleton: [],
    });
    const items = (await ok('images:list', { datasetId })).items;
    ids = items.map((i) => i.id);
    // image 0: a b c; image 1: a b(occluded); image 2: c; image 3: a; images 4, 5: none
    const put = (i: number, kps: [number, number, number, 1 | 2][]) =>
      ok('annotations:save', { imageId: ids[i]!, categoryId, keypoints: kps.map(([kp, x, y, visibility]) => ({ kp, x, y, visibility })), baseVersion: 0 });
    await put(0, [
      [0, 1, 2, 2],
      [1, 3, 4, 2],
      [2, 5, 6, 2],
    ]);
    await put(1, [
      [0, 7, 8, 2],
      [1, 9, 10, 1],
    ]);
    await put(2, [[2, 11, 12, 2]]);
    await put(3, [[0, 13, 14, 2]]);
  });

  async function build(args: Omit<InvokeArgs<'pairs:build'>, 'datasetId' | 'categoryId'>) {
    const r = await ok('pairs:build', { datasetId, categoryId, ...args });
    const job = await finished(r.jobId);
    expect(job.state).toBe('completed');
    return { ...r, result: job.result as { created: number; updated: number; moved: number } };
  }

  it('picks N random pairs reproducibly', async () => {
    const names = async () => (await ok('pairs:list', { datasetId, split: 'val' })).items.map((p) => p.name);
    const a = await build({ mode: 'random', count: 2, seed: 3, split: 'val' });
    expect(a.result.created).toBe(2);
    const first = await names();
    await ok('pairs:delete', { datasetId, ids: (await ok('pairs:list', { datasetId, split: 'val' })).items.map((p) => p.id) });
    await build({ mode: 'random', count: 2, seed: 3, split: 'val' });
    expect(await names()).toEqual(first);
    await ok('pairs:delete', { datasetId, ids: (await ok('pairs:list', { datasetId, split: 'val' })).items.map((p) => p.id) });
  });

  it('builds every pair of annotated images that share a visible keypoint, with their correspondences', async () => {
    const r = await build({ mode: 'all', split: 'trn' });
    // 4 annotated images: 6 candidates; shared visible: (0,1) a, (0,2) c, (0,3) a, (1,3) a
    expect(r).toMatchObject({ planned: 4, skipped: 2, result: { created: 4, updated: 0, moved: 0 } });
    const list = await ok('pairs:list', { datasetId });
    expect(list.items.map((p) => p.name)).toEqual([`${ids[0]}-${ids[1]}:pairs-folder`, `${ids[0]}-${ids[2]}:pairs-folder`, `${ids[0]}-${ids[3]}:pairs-folder`, `${ids[1]}-${ids[3]}:pairs-folder`]);
    const detail = await ok('pairs:get', { id: list.items[0]!.id });
    expect(detail).toMatchObject({ split: 'trn', nPts: 1, kpIds: [0], points: [[1, 2, 7, 8]], src: { bbox: null } });
  });

  it('counts occluded keypoints when asked, and updates pairs built again in place', async () => {
    const r = await build({ mode: 'all', split: 'trn', includeOccluded: true, minPoints: 2 });
    expect(r).toMatchObject({ planned: 1, result: { created: 0, updated: 1 } });
    const p = (await ok('pairs:list', { datasetId, search: `${ids[0]}-${ids[1]}:` })).items[0]!;
    expect(p.nPts).toBe(2);
  });

  it('moves a pair to the split it is built into (a pair lives in one split)', async () => {
    const r = await build({ mode: 'manual', manual: [{ src: ids[0]!, trg: ids[2]! }], split: 'test' });
    expect(r.result).toMatchObject({ created: 1, moved: 1 });
    expect((await ok('pairs:list', { datasetId, split: 'test' })).items.map((p) => p.name)).toEqual([`${ids[0]}-${ids[2]}:pairs-folder`]);
    expect((await ok('pairs:list', { datasetId, split: 'trn' })).total).toBe(3);
  });

  it.each([
    ['random without a count', { mode: 'random' }, 'count', /how many/],
    ['a hand-made pair of one image', { mode: 'manual', manual: [{ src: -1, trg: -1 }] }, 'manual', null],
    ['a hand-made pair with an unannotated image', { mode: 'manual', manual: 'unannotated' }, 'manual', /has no visible keypoints/],
    ['more shared keypoints than any pair has', { mode: 'all', minPoints: 3 }, 'minPoints', /shares 3 or more/],
  ] as const)('refuses %s, naming the field, and writes nothing', async (_what, args, field, message) => {
    const before = snapshotDb(dbFile);
    const manual = 'manual' in args ? (args.manual === 'unannotated' ? [{ src: ids[0]!, trg: ids[5]! }] : [{ src: ids[0]!, trg: ids[0]! }]) : undefined;
    const err = await fail('pairs:build', { datasetId, categoryId, split: 'trn', ...args, ...(manual ? { manual } : {}) });
    expect(err.field).toBe(field);
    if (message) expect(err.message).toMatch(message);
    expect(snapshotDb(dbFile)).toEqual(before);
  });

  it('filters the list, moves pairs between splits and deletes them', async () => {
    const all = await ok('pairs:list', { datasetId });
    expect(all.total).toBe(4);
    expect((await ok('pairs:list', { datasetId, minPoints: 2 })).total).toBe(1);
    expect((await ok('pairs:list', { datasetId, categoryId, split: 'test' })).total).toBe(1);
    const trn = (await ok('pairs:list', { datasetId, split: 'trn' })).items;
    expect(await ok('pairs:set-split', { datasetId, ids: [trn[0]!.id], split: 'val' })).toEqual({ moved: 1 });
    expect((await ok('pairs:list', { datasetId, split: 'val' })).items.at(-1)!.id).toBe(trn[0]!.id);
    expect(await fail('pairs:set-split', { datasetId: datasetId + 1000, ids: [trn[0]!.id], split: 'trn' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await ok('pairs:delete', { datasetId, ids: [trn[1]!.id] })).toEqual({ deleted: 1 });
    expect((await ok('pairs:list', { datasetId })).total).toBe(3);
  });

  it('keeps built pairs when the folder is imported again', async () => {
    const before = (await ok('pairs:list', { datasetId })).total;
    const { jobId } = await ok('datasets:import', { format: 'folder', root: path.join(tmp, 'pairs-folder') });
    const job = await finished(jobId);
    expect(job.result).toMatchObject({ created: false, removed: { pairs: 0 } });
    expect((await ok('pairs:list', { datasetId })).total).toBe(before);
  });

  it('drops the correspondences of a keypoint deleted from the schema', async () => {
    const p = (await ok('pairs:list', { datasetId, minPoints: 2 })).items[0]!;
    const r = await ok('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'a', color: '#123456', from: 0 },
        { name: 'c', color: '#123456', from: 2 },
      ],
      skeleton: [],
    });
    expect(r.pairs).toBeGreaterThan(0);
    const after = await ok('pairs:get', { id: p.id });
    expect(after).toMatchObject({ nPts: 1, kpIds: [0], points: [[1, 2, 7, 8]] });
  });
});

describe('models', () => {
  it('reports every problem of a folder that is not a model, and stores nothing', async () => {
    const broken = path.join(tmp, 'not-a-model');
    fs.mkdirSync(broken);
    const report = await ok('models:validate', { kind: 'stable-diffusion', folder: broken });
    expect(report).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.stringMatching(/unet[\\/]model\.onnx is missing/), expect.stringMatching(/text_encoder/)]) });
    const added = await ok('models:add', { kind: 'stable-diffusion', folder: broken });
    expect(added.model).toBeNull();
    expect(await ok('models:list')).toEqual([]);
    expect(await fail('models:add', { kind: 'dinov2', folder: path.join(tmp, 'absent') })).toMatchObject({ code: 'NOT_FOUND', field: 'folder' });
    expect(await fail('models:add', { kind: 'dinov2', folder: '' })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'folder' });
  });

  it.skipIf(!HAVE_FIXTURES)('registers Stable Diffusion and DINOv2 folders and compiles as a job with progress', async () => {
    const changed = collect('model:changed');
    const sd = await ok('models:add', { kind: 'stable-diffusion', folder: modelPath('sd'), name: 'tiny sd' });
    expect(sd.model).toMatchObject({ name: 'tiny sd', kind: 'stable-diffusion', compiled: null, facts: { hiddenSize: 32, latentChannels: 4, tokenizer: false } });
    expect(sd.validation.warnings.join('\n')).toMatch(/tokenizer/);
    const dino = await ok('models:add', { kind: 'dinov2', folder: modelPath('dinov2') });
    expect(dino.model).toMatchObject({ name: 'dinov2', kind: 'dinov2', facts: { patch: 14 } });
    expect(await fail('models:add', { kind: 'dinov2', folder: modelPath('dinov2'), name: 'tiny sd' })).toMatchObject({ code: 'CONFLICT', field: 'name' });
    expect(await fail('models:compile', { id: dino.model!.id })).toMatchObject({ code: 'INVALID_ARGUMENT' });

    const updates: JobInfo[] = [];
    const off = client.on('job:updated', (j) => updates.push(j));
    const { jobId } = await ok('models:compile', { id: sd.model!.id });
    expect(await fail('models:compile', { id: sd.model!.id })).toMatchObject({ code: 'CONFLICT', message: 'tiny sd is already compiling' });
    const job = await finished(jobId);
    off();
    expect(job).toMatchObject({ kind: 'compile', state: 'completed', result: { provider: 'cpu' } });
    expect(updates.map((u) => u.progress?.stage)).toEqual(expect.arrayContaining(['hashing model files']));
    const list = await ok('models:list');
    expect(list.find((m) => m.id === sd.model!.id)).toMatchObject({ compiled: { key: (job.result as { key: string }).key, present: true }, provider: 'cpu' });
    expect(changed.map((c) => c.reason)).toEqual(['added', 'added', 'compiled']);
    expect(await ok('models:remove', { id: dino.model!.id })).toEqual({ removed: true });
    expect((await ok('models:list')).map((m) => m.name)).toEqual(['tiny sd']);
  });
});

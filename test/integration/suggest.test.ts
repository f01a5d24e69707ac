/**
 * Matching-assisted annotation with the tiny fixture Stable Diffusion model, real job processes,
 * ONNX Runtime and a SQLite file, through the in-memory API and the CLI.
 *
 * The fixture's weights are random, so features match only where the pixels and the seeded noise
 * are the same: a byte-identical copy of an exemplar has that exemplar's features exactly. Its
 * suggestions must follow that exemplar (even with an unrelated exemplar present) with a higher
 * confidence than an image unlike every exemplar, and that image must head the "label next" queue.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuggestEvalReport } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { writeScene } from '../helpers/scenes.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { snapshotDb } from '../helpers/store-snapshot.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;
let api: Api;
let client: InMemoryClient;
const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

const W = 96;
const H = 80;
/** Small enough for the tiny model; one draw keeps it quick. */
const FEATURES = { size: 256, ensemble: 1 } as const;
const SCHEMA = [
  { name: 'beak', color: '#e6194b' },
  { name: 'eye', color: '#3cb44b' },
  { name: 'tail', color: '#4363d8' },
];
/** Exemplar A's keypoints (its copy's truth). */
const KPS_A = [
  { kp: 0, x: 20, y: 18, visibility: 2 as const },
  { kp: 1, x: 70, y: 30, visibility: 2 as const },
  { kp: 2, x: 40, y: 62, visibility: 2 as const },
];
const KPS_B = [
  { kp: 0, x: 60, y: 50, visibility: 2 as const },
  { kp: 1, x: 30, y: 20, visibility: 2 as const },
  { kp: 2, x: 80, y: 70, visibility: 2 as const },
];

let datasetId: number;
let categoryId: number;
let modelId: number;
let emptyPrompt: number;
const ids: Record<string, number> = {};

async function importFolder(root: string): Promise<number> {
  const { jobId } = await ok('datasets:import', { format: 'folder', root });
  const job = await finished(jobId);
  expect(job.state, JSON.stringify(job.error)).toBe('completed');
  return (job.result as { datasetId: number }).datasetId;
}

async function label(imageId: number, keypoints: { kp: number; x: number; y: number; visibility: 1 | 2 }[], cat = categoryId): Promise<void> {
  const s = await ok('annotations:get', { imageId, categoryId: cat });
  await ok('annotations:save', { imageId, categoryId: cat, keypoints, baseVersion: s.version, action: 'label' });
}

const settings = () => ({ categoryId, promptId: emptyPrompt, modelId, ...FEATURES });

describe.skipIf(!HAVE_FIXTURES)('suggested keypoints from annotated exemplars', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-suggest-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    const root = path.join(dir, 'birds');
    fs.mkdirSync(root);
    await writeScene(path.join(root, 'a_exemplar.png'), 1, { width: W, height: H });
    await writeScene(path.join(root, 'b_exemplar.png'), 2, { width: W, height: H });
    fs.copyFileSync(path.join(root, 'a_exemplar.png'), path.join(root, 'c_copy_of_a.png'));
    await writeScene(path.join(root, 'd_unrelated.png'), 3, { width: W, height: H });
    await writeScene(path.join(root, 'e_hidden_only.png'), 4, { width: W, height: H });
    const store = Store.open(db);
    try {
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    api = createApi({ db });
    client = createInMemoryClient(api);
    datasetId = await importFolder(root);
    categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
    await ok('categories:set-schema', { categoryId, keypoints: SCHEMA, skeleton: [] });
    for (const img of (await ok('images:list', { datasetId })).items) ids[img.path.replace(/\.png$/, '')] = img.id;
    await label(ids.a_exemplar, KPS_A);
    await label(ids.b_exemplar, KPS_B);
    // labelled, but nothing visible: no use as an exemplar
    await label(ids.e_hidden_only, [{ kp: 0, x: 10, y: 10, visibility: 1 }]);
    emptyPrompt = (await ok('prompts:list', {})).find((p) => p.name === 'empty prompt')!.id;
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a byte-identical copy of an exemplar gets that exemplar's keypoints, more confidently than an unrelated image; nothing becomes an annotation", async () => {
    const changed: number[] = [];
    client.on('suggest:changed', (e) => changed.push(e.imageId));
    const { jobId } = await ok('suggest:start', { ...settings(), imageIds: [ids.c_copy_of_a, ids.d_unrelated] });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 2 });
    expect(changed.sort()).toEqual([ids.c_copy_of_a, ids.d_unrelated].sort());

    const copy = (await ok('suggest:get', { imageId: ids.c_copy_of_a, categoryId }))!;
    const other = (await ok('suggest:get', { imageId: ids.d_unrelated, categoryId }))!;
    expect(copy.prompt).toBe('empty prompt');
    expect(copy.exemplars.sort()).toEqual([ids.a_exemplar, ids.b_exemplar].sort());
    expect(copy.keypoints.map((k) => k.name)).toEqual(['beak', 'eye', 'tail']);
    for (const k of copy.keypoints) {
      const truth = KPS_A[k.kp];
      // within PCK@0.05 of the image's larger side (4.8 px): the copy's own exemplar wins the vote
      expect(Math.hypot(k.x - truth.x, k.y - truth.y), `${k.name} at (${k.x}, ${k.y})`).toBeLessThanOrEqual(0.05 * W);
      expect(k.candidates).toBe(2);
      expect(k.confidence).toBeGreaterThan(0);
      expect(k.confidence).toBeLessThanOrEqual(1);
    }
    const mean = (s: typeof copy) => s.keypoints.reduce((t, k) => t + k.confidence, 0) / s.keypoints.length;
    expect(mean(copy)).toBeGreaterThan(mean(other));
    // suggestions are not annotations
    expect((await ok('annotations:get', { imageId: ids.c_copy_of_a, categoryId })).keypoints).toEqual([]);

    // the unrelated image heads the queue; the copy, close to a labelled image and confidently suggested, follows
    const q = await ok('suggest:queue', { categoryId });
    expect(q.items.map((i) => i.imageId)).toEqual([ids.d_unrelated, ids.c_copy_of_a]);
    expect(q.unranked).toBe(0);
    expect(q.items[1].novelty!).toBeLessThan(1e-3);
    expect(q.items[0].novelty!).toBeGreaterThan(q.items[1].novelty!);

    expect(await ok('suggest:clear', { imageId: ids.d_unrelated, categoryId })).toEqual({ cleared: true });
    expect(await ok('suggest:get', { imageId: ids.d_unrelated, categoryId })).toBeNull();
    expect(await ok('suggest:clear', { imageId: ids.d_unrelated, categoryId })).toEqual({ cleared: false });
    // without its suggestions it is ranked by its novelty alone
    const after = await ok('suggest:queue', { categoryId });
    const d = after.items.find((i) => i.imageId === ids.d_unrelated)!;
    expect(d.confidence).toBeNull();
    expect(d.score).toBeCloseTo(d.novelty!, 9);
    expect(after.unranked).toBe(0);
  }, 240_000);

  it('a batch suggests for every unannotated image, replacing pending sets, and can be cancelled', async () => {
    const before = (await ok('suggest:get', { imageId: ids.c_copy_of_a, categoryId }))!;
    const { jobId } = await ok('suggest:start', settings());
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 2 });
    const again = (await ok('suggest:get', { imageId: ids.c_copy_of_a, categoryId }))!;
    expect(again.createdAt).toBeGreaterThanOrEqual(before.createdAt);
    expect(again.keypoints.map((k) => [k.x, k.y])).toEqual(before.keypoints.map((k) => [k.x, k.y]));
    expect(await ok('suggest:get', { imageId: ids.d_unrelated, categoryId })).not.toBeNull();

    const started = await ok('suggest:start', settings());
    expect(await ok('jobs:cancel', { id: started.jobId })).toEqual({ cancelled: true });
    expect((await finished(started.jobId)).state).toBe('cancelled');
  }, 240_000);

  it('suggest-eval: labelled images as if unlabelled, PCK per image and keypoint, accepted share, time', async () => {
    const { jobId } = await ok('suggest:eval', { ...settings(), exemplars: 1, acceptThreshold: 0 });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    const r = job.result as SuggestEvalReport;
    expect(r.exemplars).toEqual([{ imageId: ids.a_exemplar, path: 'a_exemplar.png' }]);
    // b is evaluated; e has no visible keypoint: nothing to score there
    expect(r.perImage.map((i) => i.path)).toEqual(['b_exemplar.png']);
    expect(r.perImage.map((i) => i.points)).toEqual([3]);
    expect(r.images).toBe(1);
    expect(r.perKeypoint.map((k) => [k.name, k.points])).toEqual([
      ['beak', 1],
      ['eye', 1],
      ['tail', 1],
    ]);
    expect(Object.keys(r.pck)).toEqual(['0.05', '0.1', '0.15']);
    expect(r.pck['0.05']).toBeLessThanOrEqual(r.pck['0.1']);
    expect(r.pck['0.1']).toBeLessThanOrEqual(r.pck['0.15']);
    // threshold 0: every suggestion counts as accepted, and unchanged ones are the PCK@0.1 hits
    expect(r.acceptedShare).toBe(1);
    expect(r.acceptedUnchanged).toBeCloseTo(r.pck['0.1'], 9);
    expect(r.secondsPerImage).toBeGreaterThan(0);
  }, 240_000);

  it('refuses bad input before any work, naming the culprit, and writes nothing', async () => {
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    await writeScene(path.join(other, 'x.png'), 9, { width: W, height: H });
    await writeScene(path.join(other, 'y.png'), 10, { width: W, height: H });
    const otherDs = await importFolder(other);
    const otherCat = (await ok('datasets:get', { id: otherDs })).categoryList[0]!.id;
    const otherImages = (await ok('images:list', { datasetId: otherDs })).items;
    const snap = snapshotDb(db);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a category without a schema', { ...settings(), categoryId: otherCat }, /has no keypoint schema/],
      ['an image of another dataset', { ...settings(), imageIds: [otherImages[0]!.id] }, /belongs to another dataset, not 'birds'/],
      ['an unknown prompt', { ...settings(), promptId: 9999 }, /no prompt with id 9999/],
      ['exemplars that share no keypoint with the schema', { ...settings(), exemplarIds: [ids.e_hidden_only] }, /share no visible keypoint with the schema of category 'birds'/],
      ['an exemplar that is not labelled', { ...settings(), exemplarIds: [ids.d_unrelated] }, /has no keypoints labelled/],
      ['an unknown model', { ...settings(), modelId: 9999 }, /no model with id 9999/],
      ['an image whose only exemplar is itself', { ...settings(), imageIds: [ids.a_exemplar], exemplarIds: [ids.a_exemplar] }, /is the only exemplar of category 'birds'.*need another labelled image/],
    ];
    for (const [what, args, message] of cases) {
      expect(await fail('suggest:start', args), what).toMatchObject({ message: expect.stringMatching(message) });
    }
    expect(await fail('suggest:eval', { ...settings(), exemplars: 5 })).toMatchObject({ message: expect.stringMatching(/all used as exemplars: nothing is left/) });
    // a category with a schema but no labelled image
    await ok('categories:set-schema', { categoryId: otherCat, keypoints: SCHEMA, skeleton: [] });
    const snap2 = snapshotDb(db);
    expect(await fail('suggest:start', { ...settings(), categoryId: otherCat })).toMatchObject({ message: expect.stringMatching(/has no exemplars: label the visible keypoints/) });
    expect(snapshotDb(db)).toEqual(snap2);
    void snap;
    expect(api.context.jobs.list().filter((j) => j.kind === 'suggest' && j.state === 'running')).toEqual([]);
  }, 120_000);

  it('suggest-eval on a benchmark dataset (SPair layout: derived annotations, bbox scale) with 1, 3 and 5 exemplars', async () => {
    const root = path.join(dir, 'spair');
    await writeShiftedSpair(root, 4, 2, { size: 128, points: 5 });
    const { jobId } = await ok('datasets:import', { format: 'spair', root, name: 'spair-like' });
    const imported = await finished(jobId);
    expect(imported.state, JSON.stringify(imported.error)).toBe('completed');
    const sId = (imported.result as { datasetId: number }).datasetId;
    const cat = (await ok('datasets:get', { id: sId })).categoryList.find((c) => c.name === 'cat')!;
    expect(cat.keypoints.length).toBeGreaterThan(0);
    for (const n of [1, 3, 5]) {
      const { jobId: j } = await ok('suggest:eval', { categoryId: cat.id, promptId: emptyPrompt, modelId, ...FEATURES, exemplars: n, limit: 2 });
      const job = await finished(j);
      expect(job.state, JSON.stringify(job.error)).toBe('completed');
      const r = job.result as SuggestEvalReport;
      expect(r.exemplars).toHaveLength(n);
      expect(r.images).toBe(2);
      expect(r.perImage.every((i) => i.points > 0 && !r.exemplars.some((e) => e.imageId === i.imageId))).toBe(true);
      expect(r.perKeypoint.reduce((t, k) => t + k.points, 0)).toBe(r.perImage.reduce((t, i) => t + i.points, 0));
      // the reliability table covers every scored keypoint once, and its first 'at or above' row is the whole PCK
      const points = r.perImage.reduce((t, i) => t + i.points, 0);
      expect(r.reliability.bins.reduce((t, b) => t + b.points, 0)).toBe(points);
      expect(r.reliability.atLeast[0]).toMatchObject({ from: 0, points });
      expect(r.reliability.atLeast[0]!.pck['0.1']).toBeCloseTo(r.pck['0.1']!, 9);
    }
  }, 240_000);

  it('the CLI: suggest prints and writes JSON but stores nothing; suggest-eval and suggest-queue', async () => {
    await api.close();
    client.close();
    const snap = snapshotDb(db);
    const common = ['--db', db, '--model-dir', sd, '--dataset', 'birds', '--size', '256', '--ensemble', '1'];
    const json = path.join(dir, 'out', 'copy.json');
    const r = await runCli(['suggest', ...common, '--image', 'c_copy_of_a.png', '--exemplars', 'a_exemplar.png,b_exemplar.png', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^c_copy_of_a\.png \(birds, empty prompt, 2 exemplar\(s\)/m);
    expect(r.stdout).toMatch(/^ {2}beak +x +\d+\.\d +y +\d+\.\d +confidence \d\.\d\d +(visible|not visible)$/m);
    const out = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(out).toMatchObject({ image: 'c_copy_of_a.png', category: 'birds', prompt: 'empty prompt' });
    expect(out.keypoints.map((k: { name: string }) => k.name)).toEqual(['beak', 'eye', 'tail']);
    for (const [i, k] of (out.keypoints as { x: number; y: number }[]).entries()) expect(Math.hypot(k.x - KPS_A[i].x, k.y - KPS_A[i].y)).toBeLessThanOrEqual(0.05 * W);
    // the same image by id and by absolute path
    const byId = await runCli(['suggest', ...common, '--image', String(ids.c_copy_of_a), '--json', path.join(dir, 'out', 'id.json')]);
    expect(byId.code, byId.stderr).toBe(0);
    const abs = await runCli(['suggest', ...common, '--image', path.join(dir, 'birds', 'c_copy_of_a.png')]);
    expect(abs.code, abs.stderr).toBe(0);
    expect(snapshotDb(db)).toEqual(snap);

    const bad = await runCli(['suggest', ...common, '--image', 'nope.png']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/dataset 'birds' has no image 'nope.png'/);

    const ev = await runCli(['suggest-eval', ...common, '--category', 'birds', '--exemplars', '1', '--json', path.join(dir, 'out', 'eval.json')]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/^birds: empty prompt, 1 exemplar\(s\) \(a_exemplar\.png\), 1 image\(s\) evaluated$/m);
    expect(ev.stdout).toMatch(/PCK @0\.05 [\d.]+% {2}@0\.1 [\d.]+% {2}@0\.15 [\d.]+%/);
    expect(ev.stdout).toMatch(/reliability \(visible keypoints by the confidence of their suggestion/);
    expect(ev.stdout).toMatch(/^ {4}0\.8-1\.0 +\d+ +[-\d. ]+ +>= 0\.8 +\d+/m);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'eval.json'), 'utf8')).reports).toHaveLength(1);

    const q = await runCli(['suggest-queue', ...common, '--category', 'birds']);
    expect(q.code, q.stderr).toBe(0);
    const order = q.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[1]);
    expect(order).toEqual(['d_unrelated.png', 'c_copy_of_a.png']);
    expect(snapshotDb(db)).toEqual(snap);
  }, 300_000);
});

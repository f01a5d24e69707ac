/**
 * No waiting for the next image (services/suggest/prefetch.ts), with the tiny fixture Stable
 * Diffusion model, real job processes, ONNX Runtime and a SQLite file, through the in-memory API:
 * while an image is open, the next images' features are computed in a background process; a job
 * the user starts stops that process at once and it resumes when the job has ended; another
 * category cancels it; Suggest on a prefetched image is answered by the warm serve host with no
 * feature pass. Feature passes are counted (tensor cache entries, the host's own count), not timed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrefetchStatus } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { prefetcherOf } from '../../src/main/services/suggest/prefetch.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { writeScene } from '../helpers/scenes.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { waitFor } from '../helpers/waiting.js';

let dir: string;
let db: string;
let api: Api;
let client: InMemoryClient;
const { ok, finished } = apiCalls(
  () => client,
  () => api,
);

const W = 96;
const H = 80;
const FEATURES = { size: 256, ensemble: 1 } as const;
const SCHEMA = [
  { name: 'beak', color: '#e6194b' },
  { name: 'eye', color: '#3cb44b' },
];

/** A folder dataset of `n` noise images whose first two are labelled exemplars (`flipPairs`: symmetric keypoints); its category and image ids by file name. */
async function dataset(name: string, n: number, seed: number, flipPairs?: [number, number][]): Promise<{ categoryId: number; ids: number[] }> {
  const root = path.join(dir, name);
  fs.mkdirSync(root);
  for (let i = 0; i < n; i++) await writeScene(path.join(root, `${String(i).padStart(2, '0')}.png`), seed + i, { width: W, height: H });
  const { jobId } = await ok('datasets:import', { format: 'folder', root });
  const job = await finished(jobId);
  expect(job.state, JSON.stringify(job.error)).toBe('completed');
  const datasetId = (job.result as { datasetId: number }).datasetId;
  const categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
  await ok('categories:set-schema', { categoryId, keypoints: SCHEMA, skeleton: [], ...(flipPairs ? { flipPairs } : {}) });
  const ids = (await ok('images:list', { datasetId })).items.sort((a, b) => a.path.localeCompare(b.path)).map((i) => i.id);
  for (const imageId of ids.slice(0, 2)) {
    const s = await ok('annotations:get', { imageId, categoryId });
    const keypoints = [
      { kp: 0, x: 20 + imageId, y: 18, visibility: 2 as const },
      { kp: 1, x: 70, y: 30 + imageId, visibility: 2 as const },
    ];
    await ok('annotations:save', { imageId, categoryId, keypoints, baseVersion: s.version, action: 'label' });
  }
  return { categoryId, ids };
}

/** Feature maps in the tensor cache (its index in the store). */
function cachedFeatureMaps(): number {
  const store = Store.open(db);
  try {
    return (store.db.prepare("SELECT COUNT(*) AS n FROM cache_entries WHERE kind = 'features'").get() as { n: number }).n;
  } finally {
    store.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let modelId: number;
let promptId: number;
let birds: { categoryId: number; ids: number[] };
let cats: { categoryId: number; ids: number[] };
const statuses: PrefetchStatus[] = [];
const settings = (categoryId: number) => ({ categoryId, promptId, modelId, ...FEATURES });

describe.skipIf(!HAVE_FIXTURES)('prefetching the next images in Annotate', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-prefetch-'));
    db = path.join(dir, 'ws.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    const store = Store.open(db);
    try {
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    api = createApi({ db });
    client = createInMemoryClient(api);
    client.on('suggest:prefetch', (s) => statuses.push(s));
    birds = await dataset('birds', 12, 100);
    // symmetric keypoints: the cats' exemplars are matched mirrored too
    cats = await dataset('cats', 5, 200, [[0, 1]]);
    promptId = (await ok('prompts:list', {})).find((p) => p.name === 'empty prompt')!.id;
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("caches the open and next images' features in the background; Suggest on a prefetched image does no feature pass", async () => {
    const [, , open, n1, n2, n3, n4] = birds.ids;
    const before = cachedFeatureMaps();
    // at most three ahead: the fourth is ignored
    const first = await ok('suggest:prefetch', { ...settings(birds.categoryId), openImageId: open, imageIds: [n1, n2, n3, n4] });
    expect(first).toMatchObject({ categoryId: birds.categoryId, state: 'running', total: 4 });
    const done = await waitFor(() => statuses.find((s) => s.categoryId === birds.categoryId && s.state === 'done'), 120_000, 'prefetching to finish');
    expect(done).toMatchObject({ ready: 4, total: 4, imageId: null, note: null });
    // the four images (open + 3 ahead) and the exemplars (mirrored too where the schema has symmetric pairs)
    expect(cachedFeatureMaps() - before).toBeGreaterThanOrEqual(6);
    // the status bar saw it advance image by image
    const running = statuses.filter((s) => s.state === 'running' && s.categoryId === birds.categoryId);
    expect(new Set(running.map((s) => s.imageId))).toEqual(new Set([open, n1, n2, n3]));

    // the annotator opens the next image: Suggest is answered warm, matching only
    const maps = cachedFeatureMaps();
    const { jobId } = await ok('suggest:start', { ...settings(birds.categoryId), imageIds: [n1] });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 1, warm: true, computed: 0 });
    expect(job.pid).toBeUndefined();
    expect(cachedFeatureMaps()).toBe(maps);
    const set = (await ok('suggest:get', { imageId: n1, categoryId: birds.categoryId }))!;
    expect(set.keypoints.map((k) => k.name)).toEqual(['beak', 'eye']);
    expect(set.exemplars.sort()).toEqual(birds.ids.slice(0, 2).sort());

    // an image that was not prefetched runs as before: a job process of its own, with a feature pass
    const other = await ok('suggest:start', { ...settings(birds.categoryId), imageIds: [n4] });
    const otherJob = await finished(other.jobId);
    expect(otherJob.state, JSON.stringify(otherJob.error)).toBe('completed');
    expect(otherJob.result).not.toHaveProperty('warm');
    expect(otherJob.pid).toBeGreaterThan(0);
    expect(cachedFeatureMaps()).toBe(maps + 1);
  }, 240_000);

  it('a job the user starts stops the prefetch at once; it resumes when the job has ended', async () => {
    const [, , , , , , , open, n1, n2, n3, elsewhere] = birds.ids;
    const prefetcher = prefetcherOf(api.context);
    const preempted = prefetcher.counters.preempted;
    statuses.length = 0;
    await ok('suggest:prefetch', { ...settings(birds.categoryId), openImageId: open, imageIds: [n1, n2, n3] });
    // the background process is started for the open image's features
    const pid = api.context.suggestHosts().prefetch.pid!;
    expect(pid).toBeGreaterThan(0);
    expect(prefetcher.status).toMatchObject({ state: 'running', imageId: open, ready: 0 });

    // the user starts a Suggest of an image that is not prefetched: a job of its own
    const { jobId } = await ok('suggest:start', { ...settings(birds.categoryId), imageIds: [elsewhere] });
    const paused = await waitFor(() => statuses.find((s) => s.state === 'paused'), 5_000, 'the prefetch to pause');
    expect(paused).toMatchObject({ categoryId: birds.categoryId, imageId: null });
    expect(paused!.note).toMatch(/^paused while suggesting keypoints for 11\.png runs$/);
    expect(prefetcher.counters.preempted).toBe(preempted + 1);
    await waitFor(() => !alive(pid), 10_000, 'the prefetch process to end');
    expect(api.context.suggestHosts().prefetch.running).toBe(false);
    // nothing of the prefetch list became ready while the user's job ran
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 1 });

    // the job ended: a new prefetch process finishes the list
    const done = await waitFor(() => statuses.find((s) => s.state === 'done'), 120_000, 'prefetching to resume and finish');
    expect(done).toMatchObject({ ready: 4, total: 4 });
    expect(api.context.suggestHosts().prefetch.pid).not.toBe(pid);
  }, 240_000);

  it('another category cancels the prefetch in hand; stop ends it', async () => {
    const maps = cachedFeatureMaps();
    statuses.length = 0;
    const [, , catOpen, c1, c2] = cats.ids;
    await ok('suggest:prefetch', { ...settings(cats.categoryId), openImageId: catOpen, imageIds: [c1, c2] });
    const pid = api.context.suggestHosts().prefetch.pid!;
    expect(prefetcherOf(api.context).status).toMatchObject({ categoryId: cats.categoryId, state: 'running', imageId: catOpen });

    // the annotator switches to the birds, whose images are all ready: the cats' work is dropped
    const [, , , , , , , open, n1] = birds.ids;
    const now = await ok('suggest:prefetch', { ...settings(birds.categoryId), openImageId: open, imageIds: [n1] });
    expect(now.categoryId).toBe(birds.categoryId);
    await waitFor(() => !alive(pid), 10_000, 'the cancelled prefetch process to end');
    const last = await waitFor(() => statuses.at(-1)?.state === 'done' && statuses.at(-1), 60_000, 'the birds to be ready');
    expect(last).toMatchObject({ categoryId: birds.categoryId, ready: 2, total: 2 });
    // no cat image finished after the switch, and the birds were ready already: at most the cats' exemplars were computed
    expect(statuses.filter((s) => s.categoryId === cats.categoryId && s.ready > 0)).toEqual([]);
    expect(cachedFeatureMaps() - maps).toBeLessThanOrEqual(2);

    expect(await ok('suggest:prefetch-stop', {})).toMatchObject({ state: 'off', categoryId: null });
    expect(api.context.suggestHosts().prefetch.running).toBe(false);
  }, 240_000);

  it('the open image, once labelled, is an exemplar whose features (mirrored too, with symmetric keypoints) were prefetched: the next Suggest does no feature pass', async () => {
    const [, , open, next] = cats.ids;
    statuses.length = 0;
    await ok('suggest:prefetch', { ...settings(cats.categoryId), openImageId: open, imageIds: [next] });
    await waitFor(() => statuses.find((s) => s.state === 'done'), 120_000, 'prefetching to finish');
    // the annotator labels the open image and goes on to the next one
    const s = await ok('annotations:get', { imageId: open, categoryId: cats.categoryId });
    await ok('annotations:save', {
      imageId: open,
      categoryId: cats.categoryId,
      keypoints: [
        { kp: 0, x: 30, y: 20, visibility: 2 },
        { kp: 1, x: 60, y: 40, visibility: 2 },
      ],
      baseVersion: s.version,
      action: 'label',
    });
    const maps = cachedFeatureMaps();
    const { jobId } = await ok('suggest:start', { ...settings(cats.categoryId), imageIds: [next] });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 1, warm: true, computed: 0 });
    expect(cachedFeatureMaps()).toBe(maps);
    expect((await ok('suggest:get', { imageId: next, categoryId: cats.categoryId }))!.exemplars.sort()).toEqual([...cats.ids.slice(0, 2), open].sort());
    await ok('suggest:prefetch-stop', {});
  }, 240_000);
});

/**
 * Suggestions an annotator can believe, with the tiny fixture model (random weights: features match
 * only where pixels and seeded noise are the same), real job processes, ONNX Runtime and SQLite:
 *  - a byte-identical copy of an exemplar gets that exemplar's keypoints with 1 to 5 unrelated
 *    exemplars present, more confidently than an image unlike every exemplar, which heads the queue;
 *  - a losslessly re-encoded copy (same pixels, other bytes) is suggested like the byte copy;
 *  - a mirrored copy gets every keypoint under its swapped name when symmetric pairs are declared,
 *    and under the name that follows the pixels when they are not.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuggestionSet } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { Rng } from '../helpers/random.js';
import { reencodeLossless, writeScene } from '../helpers/scenes.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let api: Api;
let client: InMemoryClient;
const { ok, finished } = apiCalls(
  () => client,
  () => api,
);

const W = 96;
const H = 80;
const SIZE = { width: W, height: H };
const FEATURES = { size: 256, timestep: 50, ensemble: 1, seed: 0, visibleThreshold: 0.2 } as const;
const SCHEMA = ['left_eye', 'right_eye', 'nose', 'left_ear', 'right_ear', 'tail', 'left_paw', 'right_paw'].map((name, i) => ({ name, color: `#${(0x203040 + i * 0x141414).toString(16)}` }));
const PAIRS: [number, number][] = [
  [0, 1],
  [3, 4],
  [6, 7],
];
/** The name index a keypoint takes in the mirror image. */
const MIRROR = [1, 0, 2, 4, 3, 5, 7, 6];
const SCENES = 6;

type Kp = { kp: number; x: number; y: number; visibility: 2 };
const truth: Kp[][] = [];

let categoryId: number;
let modelId: number;
let emptyPrompt: number;
const ids: Record<string, number> = {};

function sceneKeypoints(seed: number): Kp[] {
  const rng = new Rng(1000 + seed);
  return SCHEMA.map((_, kp) => ({ kp, x: Math.round(rng.uniform(8, W - 8)), y: Math.round(rng.uniform(8, H - 8)), visibility: 2 as const }));
}

async function label(imageId: number, keypoints: Kp[]): Promise<void> {
  const s = await ok('annotations:get', { imageId, categoryId });
  await ok('annotations:save', { imageId, categoryId, keypoints, baseVersion: s.version, action: 'label' });
}

async function suggest(imageIds: number[], exemplarIds: number[]): Promise<Map<number, SuggestionSet>> {
  const { jobId } = await ok('suggest:start', { categoryId, promptId: emptyPrompt, modelId, ...FEATURES, imageIds, exemplarIds });
  const job = await finished(jobId);
  expect(job.state, JSON.stringify(job.error)).toBe('completed');
  const out = new Map<number, SuggestionSet>();
  for (const id of imageIds) out.set(id, (await ok('suggest:get', { imageId: id, categoryId }))!);
  return out;
}

const meanConfidence = (s: SuggestionSet) => s.keypoints.reduce((t, k) => t + k.confidence, 0) / s.keypoints.length;

/** Every schema keypoint suggested within 0.05 W of where `expected` says. */
function expectAt(s: SuggestionSet, expected: (kp: number) => { x: number; y: number }, what: string): void {
  expect(s.keypoints.map((k) => k.kp)).toEqual(SCHEMA.map((_, i) => i));
  for (const k of s.keypoints) {
    const e = expected(k.kp);
    const off = Math.hypot(k.x - e.x, k.y - e.y);
    expect(off, `${what}: ${k.name} at (${k.x.toFixed(1)}, ${k.y.toFixed(1)}), expected (${e.x}, ${e.y}); confidence ${k.confidence.toFixed(3)}`).toBeLessThanOrEqual(0.05 * W);
  }
}

describe.skipIf(!HAVE_FIXTURES)('suggestions an annotator can believe', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-trust-'));
    const db = path.join(dir, 'ws.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    const root = path.join(dir, 'cats');
    fs.mkdirSync(root);
    for (let s = 0; s < SCENES; s++) {
      await writeScene(path.join(root, `scene${s}.png`), 10 + s, SIZE);
      truth.push(sceneKeypoints(s));
    }
    fs.copyFileSync(path.join(root, 'scene0.png'), path.join(root, 'x_copy.png'));
    await reencodeLossless(path.join(root, 'scene0.png'), path.join(root, 'x_reencoded.png'));
    await writeScene(path.join(root, 'x_mirrored.png'), 10, SIZE, { mirrored: true });
    await writeScene(path.join(root, 'x_new.png'), 99, SIZE);
    expect(fs.readFileSync(path.join(root, 'x_reencoded.png')).equals(fs.readFileSync(path.join(root, 'scene0.png')))).toBe(false);
    const store = Store.open(db);
    try {
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    api = createApi({ db });
    client = createInMemoryClient(api);
    const { jobId } = await ok('datasets:import', { format: 'folder', root });
    const datasetId = ((await finished(jobId)).result as { datasetId: number }).datasetId;
    categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
    await ok('categories:set-schema', { categoryId, keypoints: SCHEMA, skeleton: [] });
    for (const img of (await ok('images:list', { datasetId })).items) ids[img.path.replace(/\.png$/, '')] = img.id;
    for (let s = 0; s < SCENES; s++) await label(ids[`scene${s}`]!, truth[s]!);
    emptyPrompt = (await ok('prompts:list', {})).find((p) => p.name === 'empty prompt')!.id;
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a byte-identical copy follows its exemplar with 1 to 5 unrelated exemplars present, more confidently than a new scene, which heads the queue', async () => {
    for (let unrelated = 1; unrelated <= 5; unrelated++) {
      const exemplars = Array.from({ length: unrelated + 1 }, (_, s) => ids[`scene${s}`]!);
      const sets = await suggest([ids.x_copy!, ids.x_new!], exemplars);
      const copy = sets.get(ids.x_copy!)!;
      const fresh = sets.get(ids.x_new!)!;
      expectAt(copy, (kp) => truth[0]![kp]!, `copy with ${unrelated} unrelated exemplar(s)`);
      expect(meanConfidence(copy), `${unrelated} unrelated`).toBeGreaterThan(meanConfidence(fresh));
      const q = await ok('suggest:queue', { categoryId });
      expect(q.items[0]!.imageId, `queue with ${unrelated} unrelated: ${JSON.stringify(q.items)}`).toBe(ids.x_new);
    }
  }, 600_000);

  it('a lossless re-encoding of an exemplar (same pixels, other bytes) is suggested like a byte-identical copy', async () => {
    const exemplars = [0, 1, 2].map((s) => ids[`scene${s}`]!);
    const sets = await suggest([ids.x_copy!, ids.x_reencoded!], exemplars);
    const copy = sets.get(ids.x_copy!)!;
    const re = sets.get(ids.x_reencoded!)!;
    expectAt(re, (kp) => truth[0]![kp]!, 're-encoded copy');
    re.keypoints.forEach((k, i) => {
      expect(k.x).toBeCloseTo(copy.keypoints[i]!.x, 3);
      expect(k.y).toBeCloseTo(copy.keypoints[i]!.y, 3);
      expect(k.confidence).toBeCloseTo(copy.keypoints[i]!.confidence, 4);
    });
  }, 300_000);

  it('a mirrored copy gets its keypoints under the swapped names with symmetric pairs declared, under the names the pixels carry without', async () => {
    const exemplars = [0, 1, 2].map((s) => ids[`scene${s}`]!);
    const mirrorOf = (p: { x: number; y: number }) => ({ x: W - p.x, y: p.y });
    // without pairs: the mirrored exemplar's left_eye pixels are where its left_eye name goes
    const plain = (await suggest([ids.x_mirrored!], exemplars)).get(ids.x_mirrored!)!;
    expectAt(plain, (kp) => mirrorOf(truth[0]![kp]!), 'mirrored copy, no pairs');
    expect(meanConfidence(plain)).toBeGreaterThan(0.75);

    await ok('categories:set-schema', { categoryId, keypoints: SCHEMA.map((k, i) => ({ ...k, from: i })), skeleton: [], flipPairs: PAIRS });
    const swapped = (await suggest([ids.x_mirrored!], exemplars)).get(ids.x_mirrored!)!;
    // the left eye of a cat facing the other way is the mirror image of the exemplar's right eye
    expectAt(swapped, (kp) => mirrorOf(truth[0]![MIRROR[kp]!]!), 'mirrored copy, pairs declared');
    expect(meanConfidence(swapped)).toBeGreaterThan(0.75);
    // the unmirrored copy is unaffected by the pairs
    expectAt((await suggest([ids.x_copy!], exemplars)).get(ids.x_copy!)!, (kp) => truth[0]![kp]!, 'copy, pairs declared');
  }, 300_000);
});

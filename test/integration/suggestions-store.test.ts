/**
 * Matching-assisted annotation in the store, on real SQLite temp files: pending suggestion sets
 * (put, replace, clear, per category, cascades, schema edits) and image descriptors (float32
 * exact), migration 0005 on an existing version-4 database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setSchema } from '../../src/main/services/annotations/schema.js';
import { Store } from '../../src/main/store/db.js';
import { MIGRATIONS } from '../../src/main/store/migrations/index.js';
import { repos, type StoredSuggestion, type SuggestionSetInput } from '../../src/main/store/repositories/index.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-suggest-store-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dbFile = () => path.join(tmp, `s${++n}.db`);

const kp = (k: number, over: Partial<StoredSuggestion> = {}): StoredSuggestion => ({ kp: k, x: 10.25 + k, y: 20.5 + k, confidence: 0.8, visible: true, candidates: 3, agreement: 0.75, ...over });

/** A COCO-format dataset row with two categories and three images, no files (store-level tests). */
function seed(store: Store) {
  const r = repos(store.db);
  const d = r.datasets.create({ name: `d${++n}`, format: 'coco', root: `/tmp/none-${n}` });
  const keypoints = [0, 1, 2].map((i) => ({ name: `k${i}`, color: '#e6194b' }));
  const cat = r.datasets.upsertCategory(d.id, { name: 'cat', ordinal: 0, keypoints, skeleton: [] });
  const dog = r.datasets.upsertCategory(d.id, { name: 'dog', ordinal: 1, keypoints, skeleton: [] });
  const img = (p: string) => r.images.upsert(d.id, { path: p, categoryId: null, width: 100, height: 80, format: 'jpeg', bytes: 1, sha256: p });
  return { r, d, cat, dog, b: img('b.jpg'), a: img('a.jpg'), c: img('c.jpg') };
}

function input(imageId: number, categoryId: number, keypoints: StoredSuggestion[], over: Partial<SuggestionSetInput> = {}): SuggestionSetInput {
  return { imageId, categoryId, promptId: null, prompt: 'a photo of a cat', settings: { size: 512, timestep: 50, ensemble: 2 }, exemplars: [7, 8], seconds: 1.5, keypoints, ...over };
}

describe('pending suggestion sets', () => {
  let store: Store;
  beforeAll(() => {
    store = Store.open(dbFile());
  });
  afterAll(() => store.close());

  it('stores a set with its keypoints in kp order and reads it back', () => {
    const { r, cat, a } = seed(store);
    const put = r.suggestions.put(input(a, cat, [kp(2, { visible: false, confidence: 0.1 }), kp(0)]));
    expect(put).toMatchObject({ imageId: a, categoryId: cat, promptId: null, prompt: 'a photo of a cat', exemplars: [7, 8], seconds: 1.5 });
    expect(put.keypoints.map((k) => k.kp)).toEqual([0, 2]);
    expect(r.suggestions.get(a, cat)).toEqual(put);
    expect(put.keypoints[1]).toEqual({ kp: 2, x: 12.25, y: 22.5, confidence: 0.1, visible: false, candidates: 3, agreement: 0.75 });
    expect(put.settings).toEqual({ size: 512, timestep: 50, ensemble: 2 });
    expect(put.createdAt).toBeGreaterThan(0);
  });

  it('replaces the pending set of the image and category, and leaves other categories alone', () => {
    const { r, cat, dog, a } = seed(store);
    r.suggestions.put(input(a, cat, [kp(0), kp(1)]));
    r.suggestions.put(input(a, dog, [kp(1)]));
    const second = r.suggestions.put(input(a, cat, [kp(2)], { prompt: 'class prompt', exemplars: [9] }));
    expect(r.suggestions.get(a, cat)).toEqual(second);
    expect(second.keypoints.map((k) => k.kp)).toEqual([2]);
    expect(r.suggestions.get(a, dog)!.keypoints.map((k) => k.kp)).toEqual([1]);
    expect(store.db.prepare('SELECT count(*) AS n FROM suggestion_sets WHERE image_id = ?').get(a)).toEqual({ n: 2 });
  });

  it('clears a set, saying whether there was one', () => {
    const { r, cat, a } = seed(store);
    r.suggestions.put(input(a, cat, [kp(0)]));
    expect(r.suggestions.clear(a, cat)).toBe(true);
    expect(r.suggestions.get(a, cat)).toBeUndefined();
    expect(r.suggestions.clear(a, cat)).toBe(false);
    expect(store.db.prepare('SELECT count(*) AS n FROM suggestions k JOIN suggestion_sets s ON s.id = k.set_id WHERE s.image_id = ?').get(a)).toEqual({ n: 0 });
  });

  it('lists every pending set of a category by image path, keypoints included', () => {
    const { r, cat, dog, a, b, c } = seed(store);
    r.suggestions.put(input(c, cat, [kp(1), kp(0)]));
    r.suggestions.put(input(a, cat, [kp(2)]));
    r.suggestions.put(input(b, dog, [kp(0)]));
    const list = r.suggestions.listForCategory(cat);
    expect(list.map((s) => s.imageId)).toEqual([a, c]);
    expect(list.map((s) => s.keypoints.map((k) => k.kp))).toEqual([[2], [0, 1]]);
    expect(list[1]).toEqual(r.suggestions.get(c, cat));
    expect(r.suggestions.listForCategory(dog).map((s) => s.imageId)).toEqual([b]);
  });

  it('refuses a set the schema would reject, naming the image and the keypoint', () => {
    const { r, cat, a } = seed(store);
    expect(() => r.suggestions.put(input(a, cat, [kp(1, { confidence: 1.5 })]))).toThrow(`suggestions for image ${a}, category ${cat}, keypoint 1: confidence 1.5 is outside [0, 1]`);
    expect(() => r.suggestions.put(input(a, cat, [kp(1), kp(1)]))).toThrow(/keypoint 1 appears twice/);
    expect(() => r.suggestions.put(input(a, cat, [kp(0, { x: Number.NaN })]))).toThrow(/keypoint 0: position \(NaN, 20\.5\) is not finite/);
    expect(r.suggestions.get(a, cat)).toBeUndefined();
  });

  it('keeps the prompt name when the stored prompt is deleted', () => {
    const { r, cat, a } = seed(store);
    const prompt = r.prompts.create({ name: 'cat class', kind: 'class' });
    r.suggestions.put(input(a, cat, [kp(0)], { promptId: prompt.id, prompt: 'cat class' }));
    expect(r.suggestions.get(a, cat)!.promptId).toBe(prompt.id);
    r.prompts.delete(prompt.id);
    expect(r.suggestions.get(a, cat)).toMatchObject({ promptId: null, prompt: 'cat class' });
  });

  it('stores descriptors as float32, exactly, per settings key', () => {
    const { r, a, b, c } = seed(store);
    const values = Float32Array.from([0.1, -0, 1e-42, -3.4028234663852886e38, Math.PI, 123456.789, Number.EPSILON, -1]);
    r.suggestions.putDescriptor(a, 'sd-512-t50', values);
    r.suggestions.putDescriptor(b, 'sd-512-t50', Float32Array.from([1, 2]));
    r.suggestions.putDescriptor(a, 'dino-224', Float32Array.from([5]));
    const back = r.suggestions.getDescriptor(a, 'sd-512-t50')!;
    expect(back).toBeInstanceOf(Float32Array);
    expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength)).toEqual(Buffer.from(values.buffer));
    expect(Object.is(back[1], -0)).toBe(true);
    expect(r.suggestions.getDescriptor(c, 'sd-512-t50')).toBeUndefined();
    const many = r.suggestions.descriptors([a, b, c, a], 'sd-512-t50');
    expect([...many.keys()].sort()).toEqual([a, b].sort());
    expect([...many.get(b)!]).toEqual([1, 2]);
    expect([...r.suggestions.descriptors([a, b], 'dino-224').keys()]).toEqual([a]);
    expect(r.suggestions.descriptors([], 'dino-224').size).toBe(0);
    // replaced, with another length
    r.suggestions.putDescriptor(a, 'dino-224', Float32Array.from([6, 7, 8]));
    expect([...r.suggestions.getDescriptor(a, 'dino-224')!]).toEqual([6, 7, 8]);
  });

  it('follows a keypoint schema edit: renumbered, removed keypoints dropped, the rest of the set kept', () => {
    const { r, cat, dog, a } = seed(store);
    const set = r.suggestions.put(input(a, cat, [kp(0, { x: 1 }), kp(1, { x: 2 }), kp(2, { x: 3 })]));
    r.suggestions.put(input(a, dog, [kp(0), kp(1)]));
    // new order: k2, a new keypoint, k0 (k1 deleted)
    store.writeSync((db) =>
      setSchema(db, cat, [{ name: 'k2', color: '#e6194b', from: 2 }, { name: 'new', color: '#3cb44b', from: null }, { name: 'k0', color: '#e6194b', from: 0 }], []),
    );
    const after = r.suggestions.get(a, cat)!;
    expect(after.keypoints.map((k) => [k.kp, k.x])).toEqual([
      [0, 3],
      [2, 1],
    ]);
    expect({ ...after, keypoints: [] }).toEqual({ ...set, keypoints: [] });
    expect(r.suggestions.get(a, dog)!.keypoints.map((k) => k.kp)).toEqual([0, 1]);
  });

  it('deleting an image takes its suggestion sets, keypoints and descriptors with it', () => {
    const { r, cat, dog, a, b } = seed(store);
    r.suggestions.put(input(a, cat, [kp(0), kp(1)]));
    r.suggestions.put(input(a, dog, [kp(0)]));
    r.suggestions.put(input(b, cat, [kp(2)]));
    r.suggestions.putDescriptor(a, 'k', Float32Array.from([1]));
    const rows = () => ({
      sets: (store.db.prepare('SELECT count(*) AS n FROM suggestion_sets WHERE image_id = ?').get(a) as { n: number }).n,
      all: (store.db.prepare('SELECT count(*) AS n FROM suggestions').get() as { n: number }).n,
      descriptors: (store.db.prepare('SELECT count(*) AS n FROM image_descriptors WHERE image_id = ?').get(a) as { n: number }).n,
    });
    const before = rows();
    r.images.delete(a);
    expect(rows()).toEqual({ sets: 0, all: before.all - 3, descriptors: 0 });
    expect(r.suggestions.listForCategory(cat).map((s) => s.imageId)).toEqual([b]);
    r.datasets.deleteCategory(cat);
    expect(r.suggestions.get(b, cat)).toBeUndefined();
  });
});

describe('migration 0005', () => {
  it('upgrades a version-4 database file, keeping its rows', () => {
    const file = dbFile();
    Store.open(file, { migrations: MIGRATIONS.slice(0, 4) }).close();
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(4);
    raw.prepare("INSERT INTO datasets (id, name, format, root, created_at, updated_at) VALUES (1, 'old', 'coco', '/old', 0, 0)").run();
    raw.prepare("INSERT INTO categories (id, dataset_id, name, ordinal, keypoints) VALUES (1, 1, 'bird', 0, '[{\"name\":\"beak\",\"color\":\"#fff\"}]')").run();
    raw.prepare("INSERT INTO images (id, dataset_id, path, width, height, format, bytes, sha256) VALUES (1, 1, 'x.jpg', 10, 10, 'jpeg', 1, 'h')").run();
    raw.close();
    const store = Store.open(file);
    try {
      expect(store.schemaVersion()).toBe(5);
      const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['suggestion_sets', 'suggestions', 'image_descriptors']));
      const r = repos(store.db);
      expect(r.images.get(1)).toMatchObject({ path: 'x.jpg' });
      expect(r.suggestions.put(input(1, 1, [kp(0)])).keypoints).toHaveLength(1);
      r.suggestions.putDescriptor(1, 'k', Float32Array.from([0.5]));
      expect(store.db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      store.close();
    }
  });
});

/**
 * Matching-assisted annotation in the store, on real SQLite temp files: pending suggestion sets
 * (put, replace, clear, per category, cascades, schema edits) and image descriptors (float32
 * exact), migration 0005 on an existing version-4 database; which images belong to a category (a
 * COCO dataset's unannotated images belong to every category, an image annotated in two
 * categories to both, benchmarks as before); COCO export with and without the pending
 * suggestions, through the store, the API and the CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/main/api/handlers.js';
import { setSchema } from '../../src/main/services/annotations/schema.js';
import { categoryInfos } from '../../src/main/services/app/catalog.js';
import { exportCoco, writeCocoFile } from '../../src/main/services/datasets/coco-export.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { MIGRATIONS } from '../../src/main/store/migrations/index.js';
import type { StoredSuggestion } from '../../src/main/contract/suggest.js';
import { repos, type SuggestionSetInput } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { runCli } from '../helpers/cli.js';
import { genCoco, genSpair, writeImage } from '../helpers/dataset-gen.js';

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
      setSchema(
        db,
        cat,
        [
          { name: 'k2', color: '#e6194b', from: 2 },
          { name: 'new', color: '#3cb44b', from: null },
          { name: 'k0', color: '#e6194b', from: 0 },
        ],
        [],
      ),
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
    raw.prepare('INSERT INTO categories (id, dataset_id, name, ordinal, keypoints) VALUES (1, 1, \'bird\', 0, \'[{"name":"beak","color":"#fff"}]\')').run();
    raw.prepare("INSERT INTO images (id, dataset_id, path, width, height, format, bytes, sha256) VALUES (1, 1, 'x.jpg', 10, 10, 'jpeg', 1, 'h')").run();
    raw.close();
    const store = Store.open(file, { migrations: MIGRATIONS.slice(0, 5) });
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

const extra = 'images/extra.jpg';
/** genCoco's image i. */
const p = (i: number) => `images/${String(i + 1).padStart(12, '0')}.jpg`;

/**
 * genCoco's dataset and one more image no annotation names, imported: image 0 has two person
 * instances and a widget, images 1 and 3 a widget, image 2 a person, `extra` nothing.
 */
async function importCocoWithUnannotated(store: Store, root: string, seed?: number) {
  const g = await genCoco(root, { images: 4, ...(seed === undefined ? {} : { seed }) });
  await writeImage(root, { rel: extra, width: 64, height: 48, format: 'jpeg' });
  (g.json as { images: unknown[] }).images.push({ id: 999, file_name: extra, width: 64, height: 48 });
  fs.writeFileSync(path.join(root, 'annotations.json'), JSON.stringify(g.json));
  const datasetId = (await importDataset(store, { format: 'coco', root })).datasetId;
  const r = repos(store.db);
  return { datasetId, person: r.datasets.findCategory(datasetId, 'person')!.id, widget: r.datasets.findCategory(datasetId, 'widget')!.id, ids: r.images.idsByPath(datasetId) };
}

describe('images of a category', () => {
  let store: Store;
  let datasetId: number;
  let person: number;
  let widget: number;
  let ids: Map<string, number>;

  beforeAll(async () => {
    store = Store.open(dbFile());
    ({ datasetId, person, widget, ids } = await importCocoWithUnannotated(store, path.join(tmp, 'coco')));
  });
  afterAll(() => store.close());

  it('lists an unannotated COCO image under every category and an image annotated in two under both', () => {
    const images = repos(store.db).images;
    expect(images.imagesOfCategory(datasetId, person)).toEqual([
      { id: ids.get(p(0)), path: p(0), width: expect.any(Number), height: expect.any(Number), labelled: true },
      { id: ids.get(p(2)), path: p(2), width: expect.any(Number), height: expect.any(Number), labelled: true },
      { id: ids.get(extra), path: extra, width: 64, height: 48, labelled: false },
    ]);
    expect(images.imagesOfCategory(datasetId, widget).map((m) => [m.path, m.labelled])).toEqual([
      [p(0), true],
      [p(1), true],
      [p(3), true],
      [extra, false],
    ]);
    expect(images.list(datasetId, { categoryId: person }).map((m) => m.path)).toEqual([p(0), p(2), extra]);
    expect(images.isImageOfCategory(ids.get(extra)!, person)).toBe(true);
    expect(images.isImageOfCategory(ids.get(p(0))!, widget)).toBe(true);
    expect(images.isImageOfCategory(ids.get(p(1))!, person)).toBe(false);
  });

  it('pages, filters, counts and locates by the same membership', () => {
    const images = repos(store.db).images;
    const page = images.page(datasetId, { categoryId: widget });
    expect(page.total).toBe(4);
    expect(page.items.map((m) => m.path)).toEqual([p(0), p(1), p(3), extra]);
    // keypoints counted in the page's category only
    const img0 = repos(store.db).images.annotations(ids.get(p(0))!);
    const inWidget = img0.filter((a) => a.categoryId === widget).reduce((s, a) => s + a.keypoints.length, 0);
    expect(page.items[0]!.keypoints).toBe(inWidget);
    expect(images.page(datasetId, {}).items.find((m) => m.path === p(0))!.keypoints).toBe(img0.reduce((s, a) => s + a.keypoints.length, 0));
    expect(images.page(datasetId, { categoryId: person, filter: 'unannotated' }).items.map((m) => m.path)).toEqual([extra]);
    expect(images.page(datasetId, { categoryId: person, filter: 'annotated' }).items.map((m) => m.path)).toEqual([p(0), p(2)]);
    expect(images.page(datasetId, { categoryId: widget, search: 'extra' }).total).toBe(1);
    expect(images.indexOf(datasetId, ids.get(extra)!, { categoryId: widget })).toBe(3);
    expect(images.indexOf(datasetId, ids.get(p(1))!, { categoryId: person })).toBe(-1);
    const infos = categoryInfos(store.db, datasetId);
    expect(infos.map((c) => [c.name, c.images, c.annotated])).toEqual([
      ['person', 3, 2],
      ['widget', 4, 3],
    ]);
    const stats = repos(store.db).datasets.details(datasetId).categoryStats;
    expect(stats.map((c) => [c.name, c.images])).toEqual([
      ['person', 3],
      ['widget', 4],
    ]);
  });

  it('an image annotated in one category leaves the others; a category of another dataset has none of its images', () => {
    const r = repos(store.db);
    const other = r.datasets.create({ name: 'elsewhere', format: 'coco', root: '/tmp/elsewhere' });
    const foreign = r.datasets.upsertCategory(other.id, { name: 'person', ordinal: 0, keypoints: [], skeleton: [] });
    expect(r.images.isImageOfCategory(ids.get(extra)!, foreign)).toBe(false);
    expect(r.images.imagesOfCategory(datasetId, foreign)).toEqual([]);
    store.writeSync((db) => repos(db).images.setInstanceKeypoints(ids.get(extra)!, person, 0, [{ kp: 0, x: 5, y: 6, visibility: 2 }]));
    try {
      expect(r.images.imagesOfCategory(datasetId, person).find((m) => m.path === extra)!.labelled).toBe(true);
      expect(r.images.isImageOfCategory(ids.get(extra)!, widget)).toBe(false);
      expect(r.images.page(datasetId, { categoryId: widget }).total).toBe(3);
    } finally {
      store.writeSync((db) => repos(db).images.setInstanceKeypoints(ids.get(extra)!, person, 0, []));
    }
    expect(r.images.isImageOfCategory(ids.get(extra)!, widget)).toBe(true);
  });

  it('SPair-71k images stay under the category the benchmark files them under', async () => {
    const spair = await importDataset(store, { format: 'spair', root: (await genSpair(path.join(tmp, 'SPair-71k'))).root });
    const r = repos(store.db);
    const filed = store.db.prepare('SELECT category_id AS c, id FROM images WHERE dataset_id = ? ORDER BY path').all(spair.datasetId) as { c: number; id: number }[];
    const infos = categoryInfos(store.db, spair.datasetId);
    expect(infos.length).toBeGreaterThan(1);
    for (const c of infos) {
      const own = filed.filter((f) => f.c === c.id).map((f) => f.id);
      expect(r.images.imagesOfCategory(spair.datasetId, c.id).map((m) => m.id)).toEqual(own);
      expect(r.images.page(spair.datasetId, { categoryId: c.id }).total).toBe(own.length);
      expect(c.images).toBe(own.length);
      // the keypoints SPair derives from its pairs count as labels
      const labelled = new Set(r.images.keypointRowsOfCategory(spair.datasetId, c.id).map((k) => k.id));
      expect(
        r.images
          .imagesOfCategory(spair.datasetId, c.id)
          .filter((m) => m.labelled)
          .map((m) => m.id),
      ).toEqual(own.filter((id) => labelled.has(id)));
      expect(c.annotated).toBe(labelled.size);
    }
  });
});

describe('COCO export and pending suggestions', () => {
  let store: Store;
  let datasetId: number;
  let person: number;
  let ids: Map<string, number>;
  const withoutDate = (doc: ReturnType<typeof exportCoco>) => ({ ...doc, info: { ...doc.info, date_created: '' } });

  beforeAll(async () => {
    store = Store.open(dbFile());
    ({ datasetId, person, ids } = await importCocoWithUnannotated(store, path.join(tmp, 'coco-export'), 5));
  });
  afterAll(() => store.close());

  it('leaves pending suggestions out by default, and fills in unlabelled keypoints with v and `suggested` when asked', () => {
    const r = repos(store.db);
    const before = withoutDate(exportCoco(store.db, datasetId));
    const img2 = ids.get(p(2))!;
    const stored = r.images.instance(img2, person, 0)!.keypoints;
    const labelled = new Set(stored.map((k) => k.kp));
    const free = [0, 1, 2, 3, 4].filter((k) => !labelled.has(k));
    expect(labelled.has(0)).toBe(true); // genCoco labels keypoint 0 of every instance
    expect(free.length).toBeGreaterThan(0);
    r.suggestions.put(
      input(img2, person, [
        kp(0, { x: 1, y: 1 }), // labelled already: the label wins
        ...free.map((k, i) => kp(k, { x: 30 + k, y: 40 + k, visible: i % 2 === 0 })),
        kp(9), // beyond the schema (an old run)
      ]),
    );
    r.suggestions.put(input(ids.get(extra)!, person, [kp(3, { x: 10, y: 12 }), kp(1, { x: 20, y: 8, visible: false })]));

    expect(withoutDate(exportCoco(store.db, datasetId))).toEqual(before);
    expect(withoutDate(exportCoco(store.db, datasetId, { includePending: false }))).toEqual(before);

    const doc = exportCoco(store.db, datasetId, { includePending: true });
    const personCoco = doc.categories.find((c) => c.name === 'person')!.id;
    const byImage = (imageId: number) => doc.annotations.filter((a) => a.image_id === imageId && a.category_id === personCoco);
    const a2 = byImage(img2)[0]!;
    const b2 = before.annotations.find((a) => a.image_id === img2 && a.category_id === personCoco)!;
    expect(a2.suggested).toEqual(free);
    expect(a2.id).toBe(b2.id);
    for (const k of labelled) expect(a2.keypoints.slice(3 * k, 3 * k + 3)).toEqual(b2.keypoints.slice(3 * k, 3 * k + 3));
    free.forEach((k, i) => expect(a2.keypoints.slice(3 * k, 3 * k + 3)).toEqual([30 + k, 40 + k, i % 2 === 0 ? 2 : 1]));
    expect(a2.num_keypoints).toBe(5);
    expect(a2.bbox).toEqual(b2.bbox);
    // the unannotated image gets an annotation of its own, with an id no other annotation has
    const created = byImage(ids.get(extra)!);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ suggested: [1, 3], num_keypoints: 2, keypoints: [0, 0, 0, 20, 8, 1, 0, 0, 0, 10, 12, 2, 0, 0, 0], bbox: [10, 8, 10, 4], area: 40, iscrowd: 0 });
    expect(new Set(doc.annotations.map((a) => a.id)).size).toBe(doc.annotations.length);
    // everything else as without suggestions, in the same order (image path, category, instance)
    expect(doc.annotations.filter((a) => a.suggested === undefined)).toEqual(before.annotations.filter((a) => a.id !== b2.id));
    expect(doc.annotations.at(-1)).toBe(created[0]);
  });

  it('writes the file with a count of suggested keypoints; the CLI takes --include-pending', async () => {
    const file = path.join(tmp, 'with-pending.json');
    const written = await store.read((db) => writeCocoFile(db, datasetId, file, { includePending: true }));
    expect(written.suggested).toBeGreaterThan(2);
    const plain = await store.read((db) => writeCocoFile(db, datasetId, path.join(tmp, 'plain.json')));
    expect(plain).toMatchObject({ suggested: 0, keypoints: written.keypoints - written.suggested, annotations: written.annotations - 1 });
    store.checkpoint();
    const out = path.join(tmp, 'cli-pending.json');
    const cli = await runCli(['--db', store.file, 'datasets', 'export-coco', String(datasetId), '-o', out, '--include-pending', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ suggested: written.suggested, annotations: written.annotations });
    const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { annotations: { suggested?: number[] }[] };
    expect(doc.annotations.filter((a) => a.suggested).length).toBe(2);
    const human = await runCli(['--db', store.file, 'datasets', 'export-coco', String(datasetId), '-o', out]);
    expect(human.stdout).toMatch(/^wrote .+: 5 images, \d+ annotations \(\d+ keypoints\), 2 categories/);
    expect((JSON.parse(fs.readFileSync(out, 'utf8')) as { annotations: { suggested?: number[] }[] }).annotations.some((a) => a.suggested)).toBe(false);
  });

  it('the API takes includePending (default off) and lists a category by the same membership', async () => {
    const api = createApi({ db: store.file });
    const client = createInMemoryClient(api);
    const { ok } = apiCalls(
      () => client,
      () => api,
    );
    try {
      const plain = await ok('datasets:export-coco', { id: datasetId, file: path.join(tmp, 'api-plain.json') });
      const pending = await ok('datasets:export-coco', { id: datasetId, file: path.join(tmp, 'api-pending.json'), includePending: true });
      expect(plain.suggested).toBe(0);
      expect(pending.suggested).toBeGreaterThan(0);
      expect(pending.annotations).toBe(plain.annotations + 1);
      const listed = await ok('images:list', { datasetId, categoryId: person, filter: 'unannotated' });
      expect(listed.items.map((m) => m.path)).toEqual([extra]);
      expect(await ok('images:locate', { datasetId, categoryId: person, imageId: ids.get(extra)! })).toEqual({ index: 2 });
    } finally {
      client.close();
      await api.close();
    }
  });
});

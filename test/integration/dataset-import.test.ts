/**
 * Every importer round-trips: datasets built in the real on-disk formats (JPEG/PNG, JSON, CSV,
 * MATLAB v5) read back from a real SQLite file with the same counts, coordinates (to 1e-6),
 * boxes, flags and splits; re-imports are idempotent; COCO export then import gives the same
 * annotations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCoco, writeCocoFile } from '../../src/main/services/datasets/coco-export.js';
import { importDataset, type ImportReport } from '../../src/main/services/datasets/import.js';
import type { Progress } from '../../src/main/engine/jobs/progress.js';
import { CancellationToken } from '../../src/main/engine/jobs/progress.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo, ImagesRepo, PairsRepo, type PairRecord, SPLITS } from '../../src/main/store/repositories/index.js';
import { type ExpectedAnnotation, type Generated, genCoco, genFolder, genPfPascal, genPfWillow, genSpair, writeImage } from '../helpers/dataset-gen.js';
import { snapshotDb } from '../helpers/store-snapshot.js';

let tmp: string;
let store: Store;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-import-'));
  store = Store.open(path.join(tmp, 'test.db'));
});
afterAll(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6;
}

function expectPoints(kps: Float64Array, expected: [number, number][]): void {
  expect(kps.length).toBe(expected.length * 2);
  expected.forEach(([x, y], i) => {
    expect(close(kps[2 * i]!, x), `x of point ${i}: ${kps[2 * i]} vs ${x}`).toBe(true);
    expect(close(kps[2 * i + 1]!, y), `y of point ${i}: ${kps[2 * i + 1]} vs ${y}`).toBe(true);
  });
}

/** Every pair, image and annotation of the generated dataset reads back from the database. */
async function expectDatasetMatches(datasetId: number, g: Generated): Promise<void> {
  const { pairs, images, annotations, categories } = await store.read((db) => {
    const datasets = new DatasetsRepo(db);
    const pairsRepo = new PairsRepo(db);
    const imagesRepo = new ImagesRepo(db);
    return {
      pairs: SPLITS.flatMap((split) => pairsRepo.list({ datasetId, split })),
      images: imagesRepo.list(datasetId),
      annotations: imagesRepo.annotationsOfDataset(datasetId),
      categories: datasets.categories(datasetId),
    };
  });
  expect(images.map((i) => i.path).sort()).toEqual([...g.images.keys()].sort());
  for (const img of images) {
    const want = g.images.get(img.path)!;
    expect([img.width, img.height, img.format]).toEqual([want.width, want.height, want.format]);
    expect(img.sha256).toMatch(/^[0-9a-f]{64}$/);
  }
  expect(categories.map((c) => c.name).sort()).toEqual([...g.categories].sort());
  expect(pairs).toHaveLength(g.pairs.length);
  const byKey = new Map(pairs.map((p) => [`${p.split}/${p.name}`, p]));
  for (const want of g.pairs) {
    const got = byKey.get(`${want.split}/${want.name}`) as PairRecord;
    expect(got, `${want.split}/${want.name}`).toBeDefined();
    expect(got.category).toBe(want.category);
    expect(got.src.path).toBe(path.join(g.root, ...want.src.split('/')));
    expect(got.trg.path).toBe(path.join(g.root, ...want.trg.split('/')));
    expect([got.src.width, got.src.height]).toEqual([g.images.get(want.src)!.width, g.images.get(want.src)!.height]);
    expect(got.nPts).toBe(want.srcKps.length);
    expectPoints(got.src.kps, want.srcKps);
    expectPoints(got.trg.kps, want.trgKps);
    expect(got.src.bbox).toEqual(want.srcBbox);
    expect(got.trg.bbox).toEqual(want.trgBbox);
    expect(got.kpIds).toEqual(want.kpIds);
    expect(got.flip).toBe(want.flip);
    expect(got.flags).toEqual(want.flags);
  }
  // Pairs come back in list order within each split.
  for (const split of SPLITS) {
    expect(pairs.filter((p) => p.split === split).map((p) => p.name)).toEqual(g.pairs.filter((p) => p.split === split).map((p) => p.name));
  }
  expectAnnotations(images, categories, annotations, g.annotations);
}

function expectAnnotations(
  images: { id: number; path: string }[],
  categories: { id: number; name: string }[],
  got: { imageId: number; categoryId: number; bbox: number[] | null; keypoints: { kp: number; x: number; y: number; visibility: number }[] }[],
  want: ExpectedAnnotation[],
): void {
  const imgPath = new Map(images.map((i) => [i.id, i.path]));
  const catName = new Map(categories.map((c) => [c.id, c.name]));
  const key = (image: string, category: string) => `${image} ${category}`;
  const gotMap = new Map<string, (typeof got)[number][]>();
  for (const a of got) {
    const k = key(imgPath.get(a.imageId)!, catName.get(a.categoryId)!);
    gotMap.set(k, [...(gotMap.get(k) ?? []), a]);
  }
  const wantMap = new Map<string, ExpectedAnnotation[]>();
  for (const a of want) wantMap.set(key(a.image, a.category), [...(wantMap.get(key(a.image, a.category)) ?? []), a]);
  expect([...gotMap.keys()].sort()).toEqual([...wantMap.keys()].sort());
  for (const [k, ws] of wantMap) {
    const gs = gotMap.get(k)!;
    expect(gs).toHaveLength(ws.length);
    ws.forEach((w, i) => {
      const g = gs[i]!;
      expect(g.bbox, k).toEqual(w.bbox);
      expect(g.keypoints.map((p) => p.kp)).toEqual([...w.keypoints.keys()].sort((a, b) => a - b));
      for (const p of g.keypoints) {
        const [x, y, v] = w.keypoints.get(p.kp)!;
        expect(close(p.x, x) && close(p.y, y), `${k} keypoint ${p.kp}`).toBe(true);
        expect(p.visibility).toBe(v);
      }
    });
  }
}

describe('SPair-71k import', () => {
  let g: Generated;
  let report: ImportReport;
  beforeAll(async () => {
    g = await genSpair(path.join(tmp, 'SPair-71k'), { pairs: { trn: 9, val: 4, test: 5 } });
    report = await importDataset(store, { format: 'spair', root: g.root });
  });

  it('reports images, pairs per split, categories, keypoints and no skipped entries', () => {
    expect(report).toMatchObject({
      name: 'SPair-71k',
      format: 'spair',
      created: true,
      images: g.images.size,
      categories: 3,
      pairs: 18,
      pairsBySplit: { trn: 9, val: 4, test: 5 },
      pairPoints: g.pairs.reduce((n, p) => n + p.srcKps.length, 0),
      annotations: g.annotations.length,
      keypoints: g.annotations.reduce((n, a) => n + a.keypoints.size, 0),
      skipped: [],
    });
    for (const s of Object.values(report.seconds)) expect(s).toBeGreaterThanOrEqual(0);
  });

  it('reads back every pair with its keypoints, boxes, kps_ids, difficulty flags and split', async () => {
    await expectDatasetMatches(report.datasetId, g);
  });

  it('filters pairs by category in one query', async () => {
    const cat = await store.read((db) => new DatasetsRepo(db).findCategory(report.datasetId, 'bicycle')!);
    const list = await store.read((db) => new PairsRepo(db).list({ datasetId: report.datasetId, split: 'trn', categoryId: cat.id }));
    expect(list.map((p) => p.name)).toEqual(g.pairs.filter((p) => p.split === 'trn' && p.category === 'bicycle').map((p) => p.name));
  });

  it('names category keypoints by their SPair ids', async () => {
    const cats = await store.read((db) => new DatasetsRepo(db).categories(report.datasetId));
    const maxId = Math.max(...g.pairs.filter((p) => p.category === 'cat').flatMap((p) => p.kpIds!));
    expect(cats.find((c) => c.name === 'cat')!.keypoints.map((k) => k.name)).toEqual(Array.from({ length: maxId + 1 }, (_, k) => String(k)));
  });

  it('re-importing the same folder changes nothing (same rows, same ids)', async () => {
    const before = snapshotDb(store.file, { ignoreTimestamps: true });
    const again = await importDataset(store, { format: 'spair', root: g.root });
    expect(again).toMatchObject({ datasetId: report.datasetId, created: false, removed: { images: 0, pairs: 0, annotations: 0, categories: 0 } });
    expect(snapshotDb(store.file, { ignoreTimestamps: true })).toEqual(before);
  });

  it('re-importing after the source changed updates in place and removes what is gone', async () => {
    const layout = path.join(g.root, 'Layout/large/test.txt');
    const original = fs.readFileSync(layout, 'utf8');
    const lines = original.trim().split('\n');
    const before = await store.read((db) => new PairsRepo(db).list({ datasetId: report.datasetId, split: 'test' }));
    fs.writeFileSync(layout, `${lines.slice(1).join('\n')}\n`);
    try {
      const r = await importDataset(store, { format: 'spair', root: g.root });
      expect(r.removed.pairs).toBe(1);
      const after = await store.read((db) => new PairsRepo(db).list({ datasetId: report.datasetId, split: 'test' }));
      expect(after.map((p) => p.id)).toEqual(before.slice(1).map((p) => p.id));
      expect(after.map((p) => p.ordinal)).toEqual(after.map((_, i) => i));
    } finally {
      fs.writeFileSync(layout, original);
      await importDataset(store, { format: 'spair', root: g.root });
    }
    await expectDatasetMatches(report.datasetId, g);
  });

  it('reports progress through the stages and stops with nothing written when cancelled', async () => {
    const root = path.join(tmp, 'SPair-cancel');
    await genSpair(root, { pairs: { trn: 40 } });
    const seen: string[] = [];
    const token = new CancellationToken();
    const before = snapshotDb(store.file);
    const task = {
      token,
      progress(p: Omit<Progress, 'rate' | 'etaSeconds'>) {
        if (seen.at(-1) !== p.stage) seen.push(p.stage);
        if (p.stage === 'writing' && p.done > 0) token.cancel('test');
      },
    };
    await expect(importDataset(store, { format: 'spair', root }, task)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toEqual(['scanning', 'reading annotations', 'checking images', 'writing']);
    expect(snapshotDb(store.file)).toEqual(before);
  });
});

describe('PF-Pascal import', () => {
  let g: Awaited<ReturnType<typeof genPfPascal>>;
  let report: ImportReport;
  beforeAll(async () => {
    g = await genPfPascal(path.join(tmp, 'pf-pascal'));
    report = await importDataset(store, { format: 'pfpascal', root: g.root });
  });

  it('keeps the kps rows annotated in both images, with boxes from the .mat files and the trn flip flag', async () => {
    expect(report).toMatchObject({ name: 'PF-Pascal', pairsBySplit: { trn: 6, val: 3, test: 3 }, skipped: [] });
    expect(g.pairs.some((p) => p.flip === 1)).toBe(true);
    expect(g.pairs.some((p) => p.kpIds!.length < 9)).toBe(true); // NaN rows were dropped
    await expectDatasetMatches(report.datasetId, g);
  });

  it('orders categories by their 1-based VOC class index', async () => {
    const cats = await store.read((db) => new DatasetsRepo(db).categories(report.datasetId));
    expect(cats.map((c) => [c.name, c.ordinal])).toEqual([
      ['aeroplane', 0],
      ['car', 6],
      ['dog', 11],
    ]);
  });
});

describe('PF-Willow import', () => {
  it('reads the 10 keypoints of both images per CSV row into the test split', async () => {
    const g = await genPfWillow(path.join(tmp, 'pf-willow'));
    const report = await importDataset(store, { format: 'pfwillow', root: g.root });
    expect(report).toMatchObject({ name: 'PF-Willow', pairs: 7, pairsBySplit: { trn: 0, val: 0, test: 7 }, pairPoints: 70, skipped: [] });
    await expectDatasetMatches(report.datasetId, g);
  });
});

describe('folder import', () => {
  it('makes one new category holding every image, and lists what is not an image', async () => {
    const g = await genFolder(path.join(tmp, 'my-widgets'));
    const report = await importDataset(store, { format: 'folder', root: g.root });
    expect(report).toMatchObject({ name: 'my-widgets', images: 5, categories: 1, pairs: 0, skipped: [{ file: 'notes.txt', reason: expect.stringMatching(/not an image/) }] });
    await expectDatasetMatches(report.datasetId, g);
  });

  it('keeps user annotations and the keypoint schema across re-imports, and adds new images', async () => {
    const g = await genFolder(path.join(tmp, 'annotated'), { images: 3 });
    const first = await importDataset(store, { format: 'folder', root: g.root, category: 'gadget' });
    const [cat] = await store.read((db) => new DatasetsRepo(db).categories(first.datasetId));
    const img = (await store.read((db) => new ImagesRepo(db).list(first.datasetId)))[0]!;
    await store.write((db) => {
      new DatasetsRepo(db).setKeypointSchema(
        cat!.id,
        [
          { name: 'tip', color: '#ff0000' },
          { name: 'base', color: '#00ff00' },
        ],
        [[0, 1]],
      );
      new ImagesRepo(db).saveAnnotation({ imageId: img.id, categoryId: cat!.id, instance: 0, bbox: null, keypoints: [{ kp: 1, x: 3.25, y: 4.5, visibility: 2 }] });
    });
    await writeImage(g.root, { rel: 'new_one.png', width: 20, height: 30, format: 'png' });
    const second = await importDataset(store, { format: 'folder', root: g.root, category: 'gadget' });
    expect(second).toMatchObject({ datasetId: first.datasetId, created: false, images: 4 });
    const after = await store.read((db) => ({ cats: new DatasetsRepo(db).categories(first.datasetId), anns: new ImagesRepo(db).annotations(img.id) }));
    expect(after.cats[0]!.keypoints.map((k) => k.name)).toEqual(['tip', 'base']);
    expect(after.cats[0]!.skeleton).toEqual([[0, 1]]);
    expect(after.anns[0]!.keypoints).toEqual([{ kp: 1, x: 3.25, y: 4.5, visibility: 2 }]);
  });
});

describe('COCO keypoints', () => {
  let g: Awaited<ReturnType<typeof genCoco>>;
  let report: ImportReport;
  beforeAll(async () => {
    g = await genCoco(path.join(tmp, 'coco-set'));
    report = await importDataset(store, { format: 'coco', root: g.root });
  });

  it('imports categories (names, skeleton), instances, boxes and keypoints with visibility', async () => {
    expect(report).toMatchObject({ name: 'coco-set', images: 4, categories: 2, annotations: g.annotations.length, skipped: [] });
    await expectDatasetMatches(report.datasetId, g);
    const cats = await store.read((db) => new DatasetsRepo(db).categories(report.datasetId));
    expect(cats[0]).toMatchObject({
      name: 'person',
      externalId: 1,
      supercategory: 'person',
      skeleton: [
        [0, 1],
        [0, 2],
        [1, 3],
        [2, 4],
      ],
    });
    expect(cats[0]!.keypoints.map((k) => k.name)).toEqual(['nose', 'left_eye', 'right_eye', 'left_hand', 'right_hand']);
  });

  it('exports what it imported: the same COCO images, categories and annotations', async () => {
    const doc = await store.read((db) => exportCoco(db, report.datasetId));
    const src = g.json as {
      images: unknown[];
      annotations: { id: number; image_id: number; category_id: number; keypoints: number[]; bbox: number[] }[];
      categories: { id: number; name: string; keypoints: string[]; skeleton: number[][] }[];
    };
    expect(doc.categories.map((c) => ({ id: c.id, name: c.name, keypoints: c.keypoints, skeleton: c.skeleton }))).toEqual(
      src.categories.map((c) => ({ id: c.id, name: c.name, keypoints: c.keypoints, skeleton: c.skeleton })),
    );
    const fileOf = new Map((src.images as { id: number; file_name: string }[]).map((i) => [i.id, i.file_name]));
    const expOut = new Map(doc.images.map((i) => [i.id, i.file_name]));
    const norm = (a: { image: string; category_id: number; keypoints: number[]; bbox: number[] }) =>
      JSON.stringify([a.image, a.category_id, a.keypoints.map((v) => +v.toFixed(6)), a.bbox.map((v) => +v.toFixed(6))]);
    expect(doc.annotations.map((a) => norm({ ...a, image: expOut.get(a.image_id)! })).sort()).toEqual(src.annotations.map((a) => norm({ ...a, image: fileOf.get(a.image_id)! })).sort());
  });

  it('export then import gives the same annotations (SPair image annotations through COCO)', async () => {
    const g2 = await genSpair(path.join(tmp, 'SPair-coco'), { seed: 9 });
    const r1 = await importDataset(store, { format: 'spair', root: g2.root, name: 'SPair for COCO' });
    const file = path.join(tmp, 'spair-export.json');
    await store.read((db) => writeCocoFile(db, r1.datasetId, file));
    const r2 = await importDataset(store, { format: 'coco', root: g2.root, annotations: file, name: 'SPair via COCO' });
    expect(r2).toMatchObject({ images: r1.images, annotations: r1.annotations, keypoints: r1.keypoints, categories: r1.categories });
    const read = (id: number) =>
      store.read((db) => {
        const imgs = new ImagesRepo(db).list(id);
        const cats = new DatasetsRepo(db).categories(id);
        const path_ = new Map(imgs.map((i) => [i.id, i.path]));
        const name = new Map(cats.map((c) => [c.id, c.name]));
        return {
          categories: cats.map((c) => ({ name: c.name, keypoints: c.keypoints, skeleton: c.skeleton })),
          images: imgs.map((i) => [i.path, i.width, i.height, i.sha256]),
          annotations: new ImagesRepo(db).annotationsOfDataset(id).map((a) => ({ image: path_.get(a.imageId), category: name.get(a.categoryId), bbox: a.bbox, keypoints: a.keypoints })),
        };
      });
    expect(await read(r2.datasetId)).toEqual(await read(r1.datasetId));
    // And it re-exports to the same document (ids aside).
    const strip = (d: ReturnType<typeof exportCoco>) => ({ c: d.categories.map((c) => ({ ...c, id: 0 })), a: d.annotations.map((a) => ({ ...a, id: 0, image_id: 0, category_id: 0 })) });
    const [e1, e2] = await store.read((db) => [exportCoco(db, r1.datasetId), exportCoco(db, r2.datasetId)]);
    expect(strip(e2!)).toEqual(strip(e1!));
  });
});

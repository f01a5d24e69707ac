/**
 * The annotation tools' formats this workstation owns end to end: YOLO pose and DeepLabCut.
 * Round trips (export -> import -> export gives the same files: names, skeleton, visibility,
 * symmetric pairs), files written by hand in each tool's published layout, and broken files (a
 * clear error naming the file and the entry, the database unchanged). Real SQLite, real images.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCoco } from '../../src/main/services/datasets/coco-export.js';
import { exportDataset } from '../../src/main/services/datasets/export/index.js';
import { importDataset, type ImportRequest } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/datasets.js';
import { writeImage } from '../helpers/dataset-gen.js';

let tmp: string;
let store: Store;
let counter = 0;
const fresh = (name: string) => path.join(tmp, `${name}-${++counter}`);

function write(root: string, rel: string, text: string): void {
  const abs = path.join(root, ...rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, text);
}

/** Every file under `dir` (relative paths, sorted) with its bytes. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return out;
}

/**
 * A COCO dataset to start from: 3 images (one 4000-wide, to stress rounding), category 'cat'
 * (4 keypoints, skeleton, symmetric pairs, two instances on one image, occluded and absent
 * keypoints) and, when `two`, category 'dog' with 4 keypoints too.
 */
async function cocoSource(opts: { two?: boolean; instances?: boolean } = {}): Promise<string> {
  const root = fresh('coco-src');
  const imgs = [
    { rel: 'photos/a.jpg', width: 64, height: 48, format: 'jpeg' as const },
    { rel: 'photos/b.png', width: 80, height: 60, format: 'png' as const },
    { rel: 'c.jpg', width: 4000, height: 30, format: 'jpeg' as const },
  ];
  for (const [i, img] of imgs.entries()) await writeImage(root, img, i);
  const cats = [
    {
      id: 1,
      name: 'cat',
      supercategory: '',
      keypoints: ['nose', 'left_ear', 'right_ear', 'tail'],
      skeleton: [
        [1, 2],
        [1, 3],
        [1, 4],
      ],
      flip_pairs: [[2, 3]],
    },
    ...(opts.two ? [{ id: 2, name: 'dog', supercategory: '', keypoints: ['snout', 'l_paw', 'r_paw', 'tail tip'], skeleton: [[2, 3]] }] : []),
  ];
  const anns = [
    { id: 1, image_id: 1, category_id: 1, keypoints: [10.5, 20.25, 2, 30, 12, 1, 0, 0, 0, 50, 40, 2], bbox: [5, 6, 50, 38] },
    ...(opts.instances === false ? [] : [{ id: 2, image_id: 1, category_id: 1, keypoints: [1, 2, 2, 0, 0, 0, 3, 4, 2, 0, 0, 0], bbox: [0.5, 1, 10, 10] }]),
    { id: 3, image_id: 2, category_id: 1, keypoints: [79, 59, 2, 0, 0, 0, 0, 0, 0, 12.125, 13.375, 1], bbox: [10, 10, 69, 49] },
    { id: 4, image_id: 3, category_id: 1, keypoints: [3999.5, 29.5, 2, 1234.567, 12.5, 2, 1, 1, 1, 2000, 15, 2], bbox: [1, 1, 3998, 28] },
    ...(opts.two ? [{ id: 5, image_id: 2, category_id: 2, keypoints: [5, 5, 2, 6, 6, 2, 7, 7, 1, 0, 0, 0], bbox: [4, 4, 4, 4] }] : []),
  ].map((a) => ({ ...a, iscrowd: 0, area: a.bbox[2]! * a.bbox[3]!, num_keypoints: 0 }));
  const json = { images: imgs.map((m, i) => ({ id: i + 1, file_name: m.rel, width: m.width, height: m.height })), annotations: anns, categories: cats };
  write(root, 'annotations.json', JSON.stringify(json));
  return root;
}

async function imp(req: ImportRequest) {
  return importDataset(store, req);
}

/** The dataset as COCO, ids and info left out: what two datasets must agree on. */
function content(datasetId: number) {
  const doc = exportCoco(store.db, datasetId);
  return {
    categories: doc.categories.map(({ id: _id, ...c }) => c),
    images: doc.images.map(({ id: _id, ...m }) => m),
    annotations: doc.annotations.map(({ id: _a, image_id, category_id: _c, ...a }) => ({ ...a, image: doc.images.find((m) => m.id === image_id)!.file_name })),
  };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-tools-'));
  store = Store.open(path.join(tmp, 'test.db'));
});
afterAll(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('YOLO pose', () => {
  it('export -> import -> export gives the same files; names, skeleton, visibility and pairs survive', async () => {
    const src = await imp({ format: 'coco', root: await cocoSource({ two: true }) });
    const out1 = fresh('yolo-out');
    const r1 = await store.read((db) => exportDataset(db, src.datasetId, 'yolo', out1));
    expect(r1).toMatchObject({ format: 'yolo', target: 'folder', images: 3, categories: 2, annotations: 5 });
    const yaml = fs.readFileSync(path.join(out1, 'data.yaml'), 'utf8');
    expect(yaml).toContain('kpt_shape: [4, 3]');
    expect(yaml).toContain('kpt_flip_idx:\n  0: [0, 2, 1, 3]\n  1: [0, 1, 2, 3]');
    expect(yaml).toContain('  0: "cat"');
    expect(fs.readFileSync(path.join(out1, 'labels/train/photos/a.txt'), 'utf8').split('\n')[0]).toBe(
      `0 ${[(5 + 25) / 64, (6 + 19) / 48, 50 / 64, 38 / 48, 10.5 / 64, 20.25 / 48].map((v) => v.toFixed(6)).join(' ')} 2 ${(30 / 64).toFixed(6)} ${(12 / 48).toFixed(6)} 1 0 0 0 ${(50 / 64).toFixed(6)} ${(40 / 48).toFixed(6)} 2`,
    );
    const back = await imp({ format: 'yolo', root: out1 });
    expect(back).toMatchObject({ format: 'yolo', images: 3, categories: 2, annotations: 5, keypoints: 14 });
    const out2 = fresh('yolo-out');
    await store.read((db) => exportDataset(db, back.datasetId, 'yolo', out2));
    expect(tree(out2)).toEqual(tree(out1));
    // the schema is the same; keypoints within YOLO's 6 decimals of the image's size
    const a = content(src.datasetId);
    const b = content(back.datasetId);
    expect(b.categories.map((c) => ({ ...c, keypoint_colors: undefined }))).toEqual(a.categories.map((c) => ({ ...c, supercategory: '', keypoint_colors: undefined })));
    expect(b.annotations.map((x) => x.keypoints.filter((_, i) => i % 3 === 2))).toEqual(a.annotations.map((x) => x.keypoints.filter((_, i) => i % 3 === 2)));
    const stored = new DatasetsRepo(store.db).find(back.datasetId)!;
    expect(stored).toMatchObject({ format: 'coco', source: path.join(fs.realpathSync(out1), 'data.yaml') });
  });
});

describe('DeepLabCut', () => {
  it('export -> import -> export gives the same files; several instances make a multi-animal project', async () => {
    const src = await imp({ format: 'coco', root: await cocoSource() });
    const out1 = fresh('dlc-out');
    const r1 = await store.read((db) => exportDataset(db, src.datasetId, 'dlc', out1));
    expect(r1).toMatchObject({ format: 'dlc', target: 'folder', images: 3, categories: 1 });
    const back = await imp({ format: 'dlc', root: out1 });
    expect(back).toMatchObject({ format: 'dlc', images: 3, categories: 1, annotations: 4 });
    const out2 = fresh('dlc-out');
    await store.read((db) => exportDataset(db, back.datasetId, 'dlc', out2));
    const t1 = tree(out1);
    const t2 = tree(out2);
    const config = (t: Map<string, Buffer>) =>
      t
        .get('config.yaml')!
        .toString()
        .replace(/^project_path: .*$/m, '');
    expect(config(t2)).toEqual(config(t1));
    t1.delete('config.yaml');
    t2.delete('config.yaml');
    expect(t2).toEqual(t1);
    const a = content(src.datasetId);
    const b = content(back.datasetId);
    expect(b.categories[0]).toMatchObject({ keypoints: a.categories[0]!.keypoints, skeleton: a.categories[0]!.skeleton, flip_pairs: [[2, 3]] });
  });
});

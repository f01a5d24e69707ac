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
import { exportDataset, exportDatasetAsync } from '../../src/main/services/datasets/export/index.js';
import { importDataset, type ImportRequest } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/datasets.js';
import { writeImage } from '../helpers/dataset-gen.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { snapshotDb } from '../helpers/store-snapshot.js';

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
    // keyed by its data.yaml: importing it again updates the same dataset, even under its own name
    expect(await imp({ format: 'yolo', root: out1, name: back.name })).toMatchObject({ datasetId: back.datasetId, created: false, annotations: 5 });
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
        // the project's place and the day it was written differ; nothing else does
        .replace(/^(project_path|date): .*$/gm, '');
    expect(config(t2)).toEqual(config(t1));
    t1.delete('config.yaml');
    t2.delete('config.yaml');
    expect(t2).toEqual(t1);
    const a = content(src.datasetId);
    const b = content(back.datasetId);
    expect(b.categories[0]).toMatchObject({ keypoints: a.categories[0]!.keypoints, skeleton: a.categories[0]!.skeleton, flip_pairs: [[2, 3]] });
  });
});

/** The annotations of a dataset by image path: category, instance, box, keypoints by name. */
function annotationsOf(datasetId: number) {
  const doc = exportCoco(store.db, datasetId);
  const cats = new Map(doc.categories.map((c) => [c.id, c]));
  return doc.annotations.map((a) => {
    const cat = cats.get(a.category_id)!;
    const kps: Record<string, [number, number, number]> = {};
    cat.keypoints.forEach((name, k) => {
      if (a.keypoints[3 * k + 2]! > 0) kps[name] = [a.keypoints[3 * k]!, a.keypoints[3 * k + 1]!, a.keypoints[3 * k + 2]!];
    });
    return { image: doc.images.find((m) => m.id === a.image_id)!.file_name, category: cat.name, bbox: a.bbox, keypoints: kps };
  });
}

/** A hand-made YOLO pose dataset in Ultralytics' layout (coco8-pose's data.yaml, smaller). */
async function handYolo(opts: { yaml?: string; labels?: Record<string, string> } = {}): Promise<string> {
  const root = fresh('yolo-hand');
  await writeImage(root, { rel: 'images/train/000001.jpg', width: 100, height: 80, format: 'jpeg' });
  await writeImage(root, { rel: 'images/val/000002.png', width: 50, height: 40, format: 'png' }, 1);
  await writeImage(root, { rel: 'images/val/000003.png', width: 50, height: 40, format: 'png' }, 2);
  write(
    root,
    'data.yaml',
    opts.yaml ??
      [
        '# Ultralytics YOLO, like coco8-pose.yaml',
        'path: ../datasets/birds-pose # dataset root dir (not here: the folder of data.yaml counts)',
        'train: images/train # train images (relative to path)',
        'val: images/val',
        'test: # test images (optional)',
        '',
        '# Keypoints',
        'kpt_shape: [3, 3] # number of keypoints, number of dims (2 for x,y or 3 for x,y,visible)',
        'flip_idx: [0, 2, 1]',
        '',
        '# Classes',
        'names:',
        '  0: bird',
        '  1: feeder',
        'kpt_names:',
        '  0:',
        '    - beak',
        '    - left_wing',
        '    - right_wing',
        '',
      ].join('\n'),
  );
  const labels = opts.labels ?? {
    'labels/train/000001.txt': '0 0.5 0.5 0.5 0.5 0.25 0.5 2 0.75 0.5 1 0 0 0\n1 0.1 0.1 0.2 0.2 0.1 0.1 2 0 0 0 0.2 0.2 2\n',
    'labels/val/000002.txt': '0 0.5 0.5 1 1 0 0 2 1 1 2 0.5 0.5 1\n',
  };
  for (const [rel, text] of Object.entries(labels)) write(root, rel, text);
  return root;
}

/** A hand-made single-animal DeepLabCut project (DeepLabCut's reaching example, one-column index). */
async function handDlc(opts: { config?: string; csv?: string } = {}): Promise<string> {
  const root = fresh('dlc-hand');
  await writeImage(root, { rel: 'labeled-data/reachingvideo1/img005.png', width: 120, height: 90, format: 'png' });
  await writeImage(root, { rel: 'labeled-data/reachingvideo1/img017.png', width: 120, height: 90, format: 'png' }, 1);
  await writeImage(root, { rel: 'labeled-data/reachingvideo1/img020.png', width: 120, height: 90, format: 'png' }, 2);
  write(
    root,
    'config.yaml',
    opts.config ??
      [
        '    # Project definitions (do not edit)',
        'Task: Reaching',
        'scorer: Mackenzie',
        'date: Oct30',
        'multianimalproject: false',
        '',
        '    # Project path (change when moving around)',
        'project_path: /home/mackenzie/Reaching-Mackenzie-2018-10-30',
        '',
        '    # Annotation data set configuration (and individual video cropping parameters)',
        'video_sets:',
        '  /home/mackenzie/videos/reachingvideo1.avi:',
        '    crop: 0, 832, 0, 747',
        'bodyparts:',
        '- hand',
        '- Finger1',
        '- Finger2',
        '- Joystick',
        'start: 0',
        'stop: 1',
        'numframes2pick: 20',
        '',
        '    # Plotting configuration',
        'skeleton:',
        '- - hand',
        '  - Finger1',
        '- - hand',
        '  - Finger2',
        'skeleton_color: black',
        '',
      ].join('\n'),
  );
  write(
    root,
    'labeled-data/reachingvideo1/CollectedData_Mackenzie.csv',
    opts.csv ??
      [
        'scorer,Mackenzie,Mackenzie,Mackenzie,Mackenzie,Mackenzie,Mackenzie,Mackenzie,Mackenzie',
        'bodyparts,hand,hand,Finger1,Finger1,Finger2,Finger2,Joystick,Joystick',
        'coords,x,y,x,y,x,y,x,y',
        'labeled-data/reachingvideo1/img005.png,10.5,20.25,30,40,,,NaN,NaN',
        'labeled-data/reachingvideo1/img017.png,1,2,3,4,5,6,7,8',
        '',
      ].join('\r\n'),
  );
  return root;
}

describe('files the tools wrote', () => {
  it('YOLO: classes, keypoint names, flip_idx, visibility and fractions of the image size', async () => {
    const r = await imp({ format: 'yolo', root: await handYolo() });
    expect(r).toMatchObject({ format: 'yolo', images: 3, categories: 2, annotations: 3, keypoints: 7 });
    const d = await store.read((db) => new DatasetsRepo(db).categories(r.datasetId));
    expect(d.map((c) => [c.name, c.keypoints.map((k) => k.name), c.flipPairs])).toEqual([
      ['bird', ['beak', 'left_wing', 'right_wing'], [[1, 2]]],
      // no kpt_names for class 1: kp_0..
      ['feeder', ['kp_0', 'kp_1', 'kp_2'], [[1, 2]]],
    ]);
    expect(annotationsOf(r.datasetId)).toEqual([
      { image: 'images/train/000001.jpg', category: 'bird', bbox: [25, 20, 50, 40], keypoints: { beak: [25, 40, 2], left_wing: [75, 40, 1] } },
      { image: 'images/train/000001.jpg', category: 'feeder', bbox: [0, 0, 20, 16], keypoints: { kp_0: [10, 8, 2], kp_2: [20, 16, 2] } },
      { image: 'images/val/000002.png', category: 'bird', bbox: [0, 0, 50, 40], keypoints: { beak: [0, 0, 2], left_wing: [50, 40, 2], right_wing: [25, 20, 1] } },
    ]);
  });

  it('YOLO: kpt_shape [K, 2] has no visibility: (0, 0) is absent, any other point visible', async () => {
    const yaml = 'train: images/train\nval: images/val\nkpt_shape: [2, 2]\nnames: [hand]\n';
    const r = await imp({ format: 'yolo', root: await handYolo({ yaml, labels: { 'labels/train/000001.txt': '0 0.5 0.5 0.2 0.2 0 0 0.5 0.25\n' } }) });
    expect(annotationsOf(r.datasetId)).toEqual([{ image: 'images/train/000001.jpg', category: 'hand', bbox: [40, 32, 20, 16], keypoints: { kp_1: [50, 20, 2] } }]);
  });

  it("YOLO: Roboflow's layout (train: ../train/images beside data.yaml, labels in train/labels)", async () => {
    const root = fresh('roboflow');
    await writeImage(root, { rel: 'train/images/x_jpg.rf.1.jpg', width: 100, height: 50, format: 'jpeg' });
    await writeImage(root, { rel: 'valid/images/y_jpg.rf.2.jpg', width: 100, height: 50, format: 'jpeg' }, 1);
    write(root, 'data.yaml', "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nkpt_shape: [2, 3]\nflip_idx: [1, 0]\nnc: 1\nnames: ['paw']\n");
    write(root, 'train/labels/x_jpg.rf.1.txt', '0 0.5 0.5 0.2 0.4 0.45 0.5 2 0.55 0.5 2\n');
    const r = await imp({ format: 'yolo', root });
    expect(r).toMatchObject({ images: 2, annotations: 1, keypoints: 2 });
    // Roboflow lists a test split that may not be there: left out, and said so
    expect(r.skipped).toEqual([{ file: 'data.yaml', entry: 'test', reason: expect.stringMatching(/^'\.\.\/test\/images' does not exist .*; the test split is left out$/) }]);
    // fractions times the size: 0.55 * 100 is 55.00000000000001 in floating point
    const rounded = annotationsOf(r.datasetId).map((a) => ({ ...a, keypoints: Object.fromEntries(Object.entries(a.keypoints).map(([k, v]) => [k, v.map((x) => Math.round(x * 1e6) / 1e6)])) }));
    expect(rounded).toEqual([{ image: 'train/images/x_jpg.rf.1.jpg', category: 'paw', bbox: [40, 15, 20, 20], keypoints: { kp_0: [45, 25, 2], kp_1: [55, 25, 2] } }]);
  });

  it("DeepLabCut: config.yaml's bodyparts and skeleton, a one-column index, NaN and empty cells absent", async () => {
    const r = await imp({ format: 'dlc', root: await handDlc() });
    expect(r).toMatchObject({ format: 'dlc', name: 'Reaching', images: 3, categories: 1, annotations: 2, keypoints: 6 });
    const [cat] = await store.read((db) => new DatasetsRepo(db).categories(r.datasetId));
    expect(cat).toMatchObject({
      name: 'Reaching',
      skeleton: [
        [0, 1],
        [0, 2],
      ],
      flipPairs: [],
    });
    expect(cat!.keypoints.map((k) => k.name)).toEqual(['hand', 'Finger1', 'Finger2', 'Joystick']);
    expect(annotationsOf(r.datasetId).map((a) => [a.image, a.keypoints])).toEqual([
      ['labeled-data/reachingvideo1/img005.png', { hand: [10.5, 20.25, 2], Finger1: [30, 40, 2] }],
      ['labeled-data/reachingvideo1/img017.png', { hand: [1, 2, 2], Finger1: [3, 4, 2], Finger2: [5, 6, 2], Joystick: [7, 8, 2] }],
    ]);
  });

  it('DeepLabCut: a multi-animal CSV (three index columns, individuals) gives one annotation per individual', async () => {
    const config = [
      'Task: mice',
      'scorer: me',
      'multianimalproject: true',
      'individuals:',
      '- m1',
      '- m2',
      'uniquebodyparts: []',
      'multianimalbodyparts:',
      '- nose',
      '- tail',
      'bodyparts: MULTI!',
      '',
    ].join('\n');
    const csv = [
      'scorer,,,me,me,me,me,me,me,me,me',
      'individuals,,,m1,m1,m1,m1,m2,m2,m2,m2',
      'bodyparts,,,nose,nose,tail,tail,nose,nose,tail,tail',
      'coords,,,x,y,x,y,x,y,x,y',
      'labeled-data,reachingvideo1,img020.png,1,2,3,4,5,6,,',
      '',
    ].join('\n');
    const r = await imp({ format: 'dlc', root: await handDlc({ config, csv }) });
    expect(annotationsOf(r.datasetId).map((a) => [a.image, a.keypoints])).toEqual([
      ['labeled-data/reachingvideo1/img020.png', { nose: [1, 2, 2], tail: [3, 4, 2] }],
      ['labeled-data/reachingvideo1/img020.png', { nose: [5, 6, 2] }],
    ]);
  });
});

describe('broken files: one error naming the file and the entry, nothing written', () => {
  const cases: [string, () => Promise<ImportRequest>, RegExp][] = [
    [
      'YOLO: a line with the wrong count',
      async () => ({ format: 'yolo', root: await handYolo({ labels: { 'labels/train/000001.txt': '0 0.5 0.5 0.5 0.5 0.25 0.5 2\n' } }) }),
      /labels\/train\/000001\.txt: line 1: has 8 numbers; kpt_shape \[3, 3\] needs 14/,
    ],
    [
      'YOLO: an unknown class',
      async () => ({ format: 'yolo', root: await handYolo({ labels: { 'labels/val/000002.txt': '\n5 0.5 0.5 1 1 0 0 2 1 1 2 0.5 0.5 1\n' } }) }),
      /labels\/val\/000002\.txt: line 2: class 5 is not in 'names' of data\.yaml \(0\.\.1\)/,
    ],
    [
      'YOLO: a keypoint outside the image',
      async () => ({ format: 'yolo', root: await handYolo({ labels: { 'labels/val/000002.txt': '0 0.5 0.5 1 1 1.2 0.5 2 1 1 2 0.5 0.5 1\n' } }) }),
      /labels\/val\/000002\.txt: line 1: keypoint 'beak' \(1\.2, 0\.5\) lies outside the image/,
    ],
    [
      'YOLO: a visibility YOLO does not have',
      async () => ({ format: 'yolo', root: await handYolo({ labels: { 'labels/val/000002.txt': '0 0.5 0.5 1 1 0.5 0.5 3 1 1 2 0.5 0.5 1\n' } }) }),
      /line 1: keypoint 'beak' has visibility 3/,
    ],
    ['YOLO: no kpt_shape', async () => ({ format: 'yolo', root: await handYolo({ yaml: 'train: images/train\nnames: [a]\n' }) }), /data\.yaml: kpt_shape: must be \[number of keypoints, 2 or 3\]/],
    [
      'YOLO: kpt_names of the wrong length',
      async () => ({ format: 'yolo', root: await handYolo({ yaml: 'train: images/train\nkpt_shape: [3, 3]\nnames: [a]\nkpt_names: {0: [x, y]}\n' }) }),
      /data\.yaml: kpt_names\[0\]: must list the 3 keypoint names of class 'a'/,
    ],
    [
      'YOLO: a flip_idx that is no mirror',
      async () => ({ format: 'yolo', root: await handYolo({ yaml: 'train: images/train\nkpt_shape: [3, 3]\nnames: [a]\nflip_idx: [1, 2, 0]\n' }) }),
      /data\.yaml: flip_idx: flip_idx\[0\] = 1 but flip_idx\[1\] = 2/,
    ],
    [
      'YOLO: a split folder that is not there',
      async () => ({ format: 'yolo', root: await handYolo({ yaml: 'train: images/nope\nkpt_shape: [3, 3]\nnames: [a]\n' }) }),
      /data\.yaml: train: 'images\/nope' is neither a folder nor a \.txt list/,
    ],
    [
      'YOLO: a data.yaml that is not YAML',
      async () => ({ format: 'yolo', root: await handYolo({ yaml: 'train: images/train\nkpt_shape: [3, 3\nnames: [a]\n' }) }),
      /^data\.yaml: line \d: not valid YAML/,
    ],
    [
      "DeepLabCut: a CSV without DeepLabCut's header",
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'image,hand_x,hand_y\nlabeled-data/reachingvideo1/img005.png,1,2\n' }) }),
      /CollectedData_Mackenzie\.csv: line 1: the header must be rows 'scorer', \['individuals',\] 'bodyparts', 'coords'/,
    ],
    [
      'DeepLabCut: a bodypart without its y column',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M,M\nbodyparts,hand,hand,Finger1\ncoords,x,y,x\nlabeled-data/reachingvideo1/img005.png,1,2,3\n' }) }),
      /labeled-data\/reachingvideo1\/CollectedData_Mackenzie\.csv: line 3: bodypart 'Finger1' has no y column/,
    ],
    [
      'DeepLabCut: an unknown bodypart',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M\nbodyparts,tail,tail\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,1,2\n' }) }),
      /CollectedData_Mackenzie\.csv: line 2: unknown bodypart 'tail' \(config\.yaml lists hand, Finger1, Finger2, Joystick\)/,
    ],
    [
      'DeepLabCut: coordinates outside the image',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,500,20\n' }) }),
      /CollectedData_Mackenzie\.csv: line 4: keypoint 'hand' \(500, 20\) lies outside the image labeled-data\/reachingvideo1\/img005\.png \(120x90\)/,
    ],
    [
      'DeepLabCut: x without y',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,5,\n' }) }),
      /CollectedData_Mackenzie\.csv: line 4: bodypart 'hand' has x but no y/,
    ],
    [
      'DeepLabCut: a row with the wrong count',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,5,6,7\n' }) }),
      /CollectedData_Mackenzie\.csv: line 4: has 4 columns; the header has 3/,
    ],
    [
      'DeepLabCut: a frame listed twice',
      async () => ({
        format: 'dlc',
        root: await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,,\nlabeled-data/reachingvideo1/img005.png,5,6\n' }),
      }),
      /CollectedData_Mackenzie\.csv: line 5: image labeled-data\/reachingvideo1\/img005\.png is listed twice \(first at labeled-data\/reachingvideo1\/CollectedData_Mackenzie\.csv: line 4\)/,
    ],
    [
      'DeepLabCut: a skeleton naming an unknown bodypart',
      async () => ({ format: 'dlc', root: await handDlc({ config: 'Task: t\nbodyparts: [hand, Finger1, Finger2, Joystick]\nskeleton:\n- [hand, elbow]\n' }) }),
      /config\.yaml: skeleton\[0\]: unknown bodypart 'elbow'/,
    ],
    [
      'DeepLabCut: an image the CSV names that is not there',
      async () => ({ format: 'dlc', root: await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img999.png,5,6\n' }) }),
      /labeled-data\/reachingvideo1\/img999\.png: .*CollectedData_Mackenzie\.csv: line 4/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(what, async () => {
      const req = await make();
      const before = snapshotDb(store.file);
      await expect(imp(req)).rejects.toThrow(message);
      expect(snapshotDb(store.file)).toEqual(before);
    });
  }
});

describe('skipping invalid entries', () => {
  it('imports the valid lines and rows and lists the others', async () => {
    const yolo = await handYolo({ labels: { 'labels/train/000001.txt': '0 0.5 0.5 0.5 0.5 0.25 0.5 2\n1 0.1 0.1 0.2 0.2 0.1 0.1 2 0 0 0 0.2 0.2 2\n' } });
    const r = await imp({ format: 'yolo', root: yolo, skipInvalid: true });
    expect(r).toMatchObject({ annotations: 1, keypoints: 2 });
    expect(r.skipped).toEqual([{ file: 'labels/train/000001.txt', entry: 'line 1', reason: expect.stringMatching(/^has 8 numbers/) }]);
    const dlc = await handDlc({ csv: 'scorer,M,M\nbodyparts,hand,hand\ncoords,x,y\nlabeled-data/reachingvideo1/img005.png,5,\nlabeled-data/reachingvideo1/img017.png,5,6\n' });
    const d = await imp({ format: 'dlc', root: dlc, skipInvalid: true });
    expect(d).toMatchObject({ images: 3, annotations: 1, keypoints: 1 });
    expect(d.skipped).toEqual([{ file: 'labeled-data/reachingvideo1/CollectedData_Mackenzie.csv', entry: 'line 4', reason: "bodypart 'hand' has x but no y" }]);
  });
});

describe('exports the format cannot hold', () => {
  it('refuses, naming the categories or the folder, and writes nothing', async () => {
    const root = await cocoSource({ two: true });
    const doc = JSON.parse(fs.readFileSync(path.join(root, 'annotations.json'), 'utf8')) as { categories: { keypoints: string[]; skeleton: number[][] }[] };
    doc.categories[1]!.keypoints = ['a', 'b'];
    doc.categories[1]!.skeleton = [];
    (doc as unknown as { annotations: { category_id: number }[] }).annotations = (doc as unknown as { annotations: { category_id: number }[] }).annotations.filter((a) => a.category_id === 1);
    write(root, 'annotations.json', JSON.stringify(doc));
    const r = await imp({ format: 'coco', root });
    const out = fresh('refused');
    await expect(store.read((db) => exportDataset(db, r.datasetId, 'yolo', out))).rejects.toThrow(/one kpt_shape for all classes, but category 'cat' has 4 keypoints and 'dog' 2/);
    await expect(store.read((db) => exportDataset(db, r.datasetId, 'dlc', out))).rejects.toThrow(/one list of bodyparts, but dataset '.*' has 2 categories \(cat, dog\)/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith(path.basename(out)))).toEqual([]);
    fs.mkdirSync(out);
    write(out, 'notes.txt', 'mine');
    const single = await imp({ format: 'coco', root: await cocoSource() });
    await expect(store.read((db) => exportDataset(db, single.datasetId, 'yolo', out, { overwrite: true }))).rejects.toThrow(/is a folder that is not empty \(and holds no yolo export to replace\)/);
    expect(fs.readdirSync(out)).toEqual(['notes.txt']);
  });

  it('replaces an earlier export of the same format with --overwrite, and only then', async () => {
    const r = await imp({ format: 'coco', root: await cocoSource() });
    const out = fresh('again');
    await store.read((db) => exportDataset(db, r.datasetId, 'dlc', out));
    await expect(store.read((db) => exportDataset(db, r.datasetId, 'dlc', out))).rejects.toThrow(/holds an earlier dlc export; pass --overwrite to replace it/);
    await store.read((db) => exportDataset(db, r.datasetId, 'dlc', out, { overwrite: true }));
    expect(fs.existsSync(path.join(out, 'config.yaml'))).toBe(true);
  });
});

describe('an export through the store', () => {
  it('copies the images without holding the event loop, and outside the read transaction', async () => {
    const root = fresh('many');
    const n = 40;
    const images = Array.from({ length: n }, (_, i) => ({ id: i + 1, file_name: `img${i}.png`, width: 32, height: 24 }));
    for (const m of images) await writeImage(root, { rel: m.file_name, width: 32, height: 24, format: 'png' }, m.id);
    const doc = { images, annotations: [{ id: 1, image_id: 1, category_id: 1, keypoints: [1, 2, 2, 3, 4, 1], bbox: [0, 0, 5, 5] }], categories: [{ id: 1, name: 'x', keypoints: ['a', 'b'] }] };
    write(root, 'annotations.json', JSON.stringify(doc));
    const r = await imp({ format: 'coco', root });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const out = fresh('many-yolo');
    try {
      const result = await exportDatasetAsync(store, r.datasetId, 'yolo', out);
      expect(result).toMatchObject({ format: 'yolo', images: n, annotations: 1, keypoints: 2, out });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(out, 'images', 'train'))).toHaveLength(n);
    // a missing image stops the export with its name, and nothing is left behind
    fs.rmSync(path.join(root, 'img7.png'));
    const again = fresh('many-yolo');
    await expect(exportDatasetAsync(store, r.datasetId, 'yolo', again)).rejects.toThrow(/image img7\.png is missing/);
    expect(fs.readdirSync(path.dirname(again)).filter((f) => f.startsWith(path.basename(again)))).toEqual([]);
  });
});

describe('CLI', () => {
  it('datasets export --format yolo|dlc and import --format yolo|dlc --annotations', async () => {
    const db = path.join(fresh('cli'), 'cli.db');
    fs.mkdirSync(path.dirname(db), { recursive: true });
    const src = await cocoSource();
    expect((await runCli(['--db', db, 'import', '--format', 'coco', '--root', src, '--name', 'src', '--quiet'])).code).toBe(0);
    const yolo = fresh('cli-yolo');
    const ex = await runCli(['--db', db, 'datasets', 'export', 'src', '--format', 'yolo', '-o', yolo]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(/^wrote yolo folder .*: 3 images, 4 annotations \(11 keypoints\), 1 categories/);
    const im = await runCli(['--db', db, 'import', '--format', 'yolo', '--root', yolo, '--annotations', path.join(yolo, 'data.yaml'), '--json', '--quiet']);
    expect(im.code, im.stderr).toBe(0);
    expect(JSON.parse(im.stdout)).toMatchObject({ format: 'yolo', images: 3, annotations: 4, keypoints: 11 });
    const dlc = fresh('cli-dlc');
    expect((await runCli(['--db', db, 'datasets', 'export', 'src', '--format', 'dlc', '-o', dlc, '--json'])).code).toBe(0);
    const bad = path.join(dlc, 'labeled-data', 'photos', `CollectedData_sd4match.csv`);
    fs.writeFileSync(bad, fs.readFileSync(bad, 'utf8').replace(/^bodyparts,,,nose,nose/m, 'bodyparts,,,elbow,elbow'));
    expectCleanFailure(await runCli(['--db', db, 'import', '--format', 'dlc', '--root', dlc, '--quiet']), /CollectedData_sd4match\.csv: line 3: unknown bodypart 'elbow'/);
  });
});

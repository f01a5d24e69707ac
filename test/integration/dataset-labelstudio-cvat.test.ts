/**
 * Label Studio and CVAT for images 1.1, through the real import pipeline and export writers on a
 * real SQLite file: export, import, export writes the same files (names, skeleton, visibility,
 * symmetric pairs); files written by hand in each tool's published layout import to the expected
 * keypoints; broken files fail naming the file and the entry, with the database unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultKeypointColor } from '../../src/main/engine/datasets/domain.js';
import { exportDataset } from '../../src/main/services/datasets/export/index.js';
import { importDataset, type ImportRequest } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo, ImagesRepo } from '../../src/main/store/repositories/index.js';
import { genCoco, genFolder, writeImage } from '../helpers/dataset-gen.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { snapshotDb } from '../helpers/store-snapshot.js';

let tmp: string;
let store: Store;
/** The COCO dataset everything starts from: two categories, several instances, visibility 1 and 2, symmetric pairs. */
let cocoId: number;
let cocoRoot: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-lscvat-'));
  store = Store.open(path.join(tmp, 'test.db'));
  const g = await genCoco(path.join(tmp, 'coco-set'));
  cocoRoot = g.root;
  const file = path.join(g.root, 'annotations.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { categories: Record<string, unknown>[] };
  // left_eye <-> right_eye, left_hand <-> right_hand (1-based)
  json.categories[0]!.flip_pairs = [
    [2, 3],
    [4, 5],
  ];
  fs.writeFileSync(file, JSON.stringify(json));
  cocoId = (await importDataset(store, { format: 'coco', root: g.root, name: 'source' })).datasetId;
});
afterAll(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A dataset's categories and annotations, by image path, in a form two datasets can be compared in. */
async function contents(datasetId: number, pathOf: (p: string) => string = (p) => p) {
  return store.read((db) => {
    const cats = new DatasetsRepo(db).categories(datasetId);
    const images = new ImagesRepo(db).list(datasetId);
    const anns = new ImagesRepo(db).annotationsOfDataset(datasetId);
    const catName = new Map(cats.map((c) => [c.id, c.name]));
    const imgPath = new Map(images.map((m) => [m.id, pathOf(m.path)]));
    return {
      categories: cats.map((c) => ({ name: c.name, keypoints: c.keypoints, skeleton: c.skeleton, flipPairs: c.flipPairs })),
      annotations: anns
        .map((a) => ({ image: imgPath.get(a.imageId)!, category: catName.get(a.categoryId)!, instance: a.instance, keypoints: a.keypoints }))
        .sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0) || (a.category < b.category ? -1 : 1) || a.instance - b.instance),
    };
  });
}

function expectSameKeypoints(got: Awaited<ReturnType<typeof contents>>, want: Awaited<ReturnType<typeof contents>>): void {
  expect(got.categories).toEqual(want.categories);
  expect(got.annotations.length).toBe(want.annotations.length);
  got.annotations.forEach((a, i) => {
    const w = want.annotations[i]!;
    expect([a.image, a.category, a.instance]).toEqual([w.image, w.category, w.instance]);
    expect(a.keypoints.map((k) => [k.kp, k.visibility])).toEqual(w.keypoints.map((k) => [k.kp, k.visibility]));
    a.keypoints.forEach((k, j) => {
      expect(Math.abs(k.x - w.keypoints[j]!.x)).toBeLessThan(1e-6);
      expect(Math.abs(k.y - w.keypoints[j]!.y)).toBeLessThan(1e-6);
    });
  });
}

function readAll(dir: string, files: string[]): string[] {
  return files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

describe.each([
  { format: 'labelstudio' as const, files: ['tasks.json', 'label_config.xml'] },
  { format: 'cvat' as const, files: ['annotations.xml', 'labels.json'] },
])('$format round trip', ({ format, files }) => {
  it('export, import, export writes the same files, with the same names, skeleton, visibility and symmetric pairs', async () => {
    const out1 = path.join(tmp, `${format}-1`);
    const out2 = path.join(tmp, `${format}-2`);
    const r1 = await store.read((db) => exportDataset(db, cocoId, format, out1));
    expect(r1).toMatchObject({ format, target: 'folder', images: 4 });
    for (const f of files) expect(fs.existsSync(path.join(out1, f))).toBe(true);
    const imported = await importDataset(store, { format, root: out1, name: `${format} back` });
    expect(imported.skipped).toEqual([]);
    await store.read((db) => exportDataset(db, imported.datasetId, format, out2));
    expect(readAll(out2, files)).toEqual(readAll(out1, files));
    expect(fs.readdirSync(path.join(out2, 'images'), { recursive: true }).sort()).toEqual(fs.readdirSync(path.join(out1, 'images'), { recursive: true }).sort());
    // what came back is what went out: names, colours, skeleton, pairs, keypoints and visibility
    expectSameKeypoints(await contents(imported.datasetId), await contents(cocoId, (p) => `images/${p.replace(/^images\//, '')}`));
    const cats = (await contents(imported.datasetId)).categories;
    expect(cats[0]!.flipPairs).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect((await contents(imported.datasetId)).annotations.some((a) => a.keypoints.some((k) => k.visibility === 1))).toBe(true);
  });

  it('a dataset whose category has no keypoints yet (a folder to annotate) exports its images, and comes back the same', async () => {
    const folder = await genFolder(path.join(tmp, `${format}-folder-src`), { images: 3 });
    const src = await importDataset(store, { format: 'folder', root: folder.root, name: `${format} folder src` });
    const out1 = path.join(tmp, `${format}-folder-1`);
    const out2 = path.join(tmp, `${format}-folder-2`);
    await store.read((db) => exportDataset(db, src.datasetId, format, out1));
    const back = await importDataset(store, { format, root: out1, name: `${format} folder back` });
    expect(back).toMatchObject({ images: 3, categories: 0, annotations: 0 });
    await store.read((db) => exportDataset(db, back.datasetId, format, out2));
    expect(readAll(out2, files)).toEqual(readAll(out1, files));
  });

  it('re-importing the same export updates the dataset in place', async () => {
    const out = path.join(tmp, `${format}-again`);
    await store.read((db) => exportDataset(db, cocoId, format, out));
    const a = await importDataset(store, { format, root: out });
    const b = await importDataset(store, { format, root: out });
    expect(b.datasetId).toBe(a.datasetId);
    expect(b.created).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------
// Files the tools wrote (by hand, to their published layouts)
// ------------------------------------------------------------------------------------------------

describe('Label Studio files as Label Studio writes them', () => {
  it('a JSON export with its labelling config: uploads, local files, percent to pixels, occlusion in meta, predictions ignored', async () => {
    const root = path.join(tmp, 'ls-hand');
    await writeImage(root, { rel: 'cat1.jpg', width: 200, height: 100, format: 'jpeg' });
    await writeImage(root, { rel: 'photos/cat2.png', width: 80, height: 160, format: 'png' });
    fs.writeFileSync(
      path.join(root, 'config.xml'),
      `<!-- {"title": "Keypoints", "category": "image"} -->
<View>
  <Image name="img" value="$photo" zoom="true"/>
  <KeyPointLabels name="kp" toName="img" strokewidth="2">
    <Label value="Nose" background="red"/>
    <Label value="Tail" background="#0000ff"/>
  </KeyPointLabels>
</View>`,
    );
    const kp = (id: string, x: number, y: number, label: string, w: number, h: number, extra: Record<string, unknown> = {}) => ({
      id,
      type: 'keypointlabels',
      from_name: 'kp',
      to_name: 'img',
      original_width: w,
      original_height: h,
      image_rotation: 0,
      value: { x, y, width: 0.67, keypointlabels: [label] },
      ...extra,
    });
    const tasks = [
      {
        id: 11,
        data: { photo: '/data/upload/3/1a2b3c4d-cat1.jpg' },
        annotations: [
          { id: 1, was_cancelled: true, result: [kp('z', 1, 1, 'Nose', 200, 100)] },
          {
            id: 2,
            result: [
              kp('a', 50, 25, 'Nose', 200, 100),
              kp('b', 10, 80, 'Tail', 200, 100, { meta: { visibility: 1 } }),
              kp('c', 75, 50, 'Nose', 200, 100),
              { id: 'u', type: 'keypoint', from_name: 'pt', to_name: 'img', value: { x: 5, y: 5, width: 1 } },
            ],
          },
        ],
        predictions: [{ result: [kp('p', 99, 99, 'Tail', 200, 100)] }],
      },
      { id: 12, data: { photo: '/data/local-files/?d=photos%2Fcat2.png' }, annotations: [{ id: 3, result: [kp('d', 25, 12.5, 'Tail', 80, 160)] }] },
    ];
    fs.writeFileSync(path.join(root, 'project-1-at-2026-12-06.json'), JSON.stringify(tasks));
    const r = await importDataset(store, { format: 'labelstudio', root });
    expect(r).toMatchObject({ name: 'project-1-at-2026-12-06', images: 2, categories: 1, annotations: 3, keypoints: 4 });
    expect(r.skipped).toEqual([{ file: 'project-1-at-2026-12-06.json', entry: 'task id 11', reason: expect.stringMatching(/^1 keypoint of a <KeyPoint> tag left out/) as string }]);
    const c = await contents(r.datasetId);
    expect(c.categories).toEqual([
      {
        name: 'kp',
        keypoints: [
          { name: 'Nose', color: 'red' },
          { name: 'Tail', color: '#0000ff' },
        ],
        skeleton: [],
        flipPairs: [],
      },
    ]);
    expect(c.annotations).toEqual([
      // the second 'Nose' is a second object
      {
        image: 'cat1.jpg',
        category: 'kp',
        instance: 0,
        keypoints: [
          { kp: 0, x: 100, y: 25, visibility: 2 },
          { kp: 1, x: 20, y: 80, visibility: 1 },
        ],
      },
      { image: 'cat1.jpg', category: 'kp', instance: 1, keypoints: [{ kp: 0, x: 150, y: 50, visibility: 2 }] },
      { image: 'photos/cat2.png', category: 'kp', instance: 0, keypoints: [{ kp: 1, x: 20, y: 20, visibility: 2 }] },
    ]);
  });

  it('without a labelling config, the keypoints are the labels seen, in order', async () => {
    const root = path.join(tmp, 'ls-noconfig');
    await writeImage(root, { rel: 'a.jpg', width: 100, height: 100, format: 'jpeg' });
    const result = ['eye', 'ear', 'eye'].map((label, i) => ({ id: `r${i}`, type: 'keypointlabels', from_name: 'face', to_name: 'image', value: { x: 10 * (i + 1), y: 10, keypointlabels: [label] } }));
    fs.writeFileSync(path.join(root, 'tasks.json'), JSON.stringify([{ id: 1, data: { image: 'http://localhost:8080/data/a.jpg' }, annotations: [{ result }] }]));
    const r = await importDataset(store, { format: 'labelstudio', root });
    const c = await contents(r.datasetId);
    expect(c.categories[0]!.keypoints.map((k) => k.name)).toEqual(['eye', 'ear']);
    expect(c.annotations.map((a) => a.keypoints.map((k) => [k.kp, k.x]))).toEqual([
      [
        [0, 10],
        [1, 20],
      ],
      [[0, 30]],
    ]);
  });

  it('a single task object (as Label Studio also imports) is a list of one', async () => {
    const root = path.join(tmp, 'ls-single');
    await writeImage(root, { rel: 'one.png', width: 40, height: 20, format: 'png' });
    const result = [{ id: 'x', type: 'keypointlabels', from_name: 'tag', to_name: 'image', original_width: 40, original_height: 20, value: { x: 50, y: 50, width: 1, keypointlabels: ['Hello'] } }];
    fs.writeFileSync(path.join(root, 'task.json'), JSON.stringify({ data: { image: 'one.png' }, annotations: [{ result }] }));
    const r = await importDataset(store, { format: 'labelstudio', root });
    expect((await contents(r.datasetId)).annotations).toEqual([{ image: 'one.png', category: 'tag', instance: 0, keypoints: [{ kp: 0, x: 20, y: 10, visibility: 2 }] }]);
  });
});

describe('CVAT files as CVAT writes them', () => {
  it('a task export with a skeleton (sublabels, svg edges, outside, occluded) and a points label', async () => {
    const root = path.join(tmp, 'cvat-hand');
    await writeImage(root, { rel: 'images/frame_0.jpg', width: 120, height: 90, format: 'jpeg' });
    await writeImage(root, { rel: 'images/frame_1.jpg', width: 120, height: 90, format: 'jpeg' });
    fs.writeFileSync(
      path.join(root, 'annotations.xml'),
      `<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id>
      <name>birds</name>
      <size>2</size>
      <mode>annotation</mode>
      <labels>
        <label>
          <name>bird</name>
          <color>#fa3253</color>
          <type>skeleton</type>
          <attributes>
          </attributes>
          <svg>&lt;line x1="30" y1="30" x2="60" y2="60" stroke="black" data-type="edge" data-node-from="2" stroke-width="0.5" data-node-to="3"&gt;&lt;/line&gt;&lt;line x1="10" y1="10" x2="30" y2="30" stroke="black" data-type="edge" data-node-from="1" stroke-width="0.5" data-node-to="2"&gt;&lt;/line&gt;&lt;circle r="1.5" stroke="black" fill="#b3b3b3" cx="10" cy="10" stroke-width="0.1" data-type="element node" data-element-id="1" data-node-id="1" data-label-name="beak"&gt;&lt;/circle&gt;&lt;circle r="1.5" stroke="black" fill="#b3b3b3" cx="30" cy="30" stroke-width="0.1" data-type="element node" data-element-id="2" data-node-id="2" data-label-name="head"&gt;&lt;/circle&gt;&lt;circle r="1.5" stroke="black" fill="#b3b3b3" cx="60" cy="60" stroke-width="0.1" data-type="element node" data-element-id="3" data-node-id="3" data-label-name="tail"&gt;&lt;/circle&gt;</svg>
        </label>
        <label><name>beak</name><color>#d12345</color><type>points</type><attributes></attributes><parent>bird</parent></label>
        <label><name>head</name><color>#350dea</color><type>points</type><attributes></attributes><parent>bird</parent></label>
        <label><name>tail</name><color>#479ffe</color><type>points</type><attributes></attributes><parent>bird</parent></label>
        <label><name>corners</name><color>#ff0000</color><type>points</type><attributes></attributes></label>
        <label><name>car</name><color>#00ff00</color><type>rectangle</type><attributes></attributes></label>
      </labels>
    </task>
    <dumped>2026-12-06 10:00:00.000000+00:00</dumped>
  </meta>
  <image id="0" name="frame_0.jpg" width="120" height="90">
    <box label="car" source="manual" occluded="0" xtl="1.00" ytl="2.00" xbr="30.00" ybr="40.00" z_order="0"></box>
    <box label="car" source="manual" occluded="0" xtl="5.00" ytl="6.00" xbr="50.50" ybr="60.00" z_order="0" group_id="3"></box>
    <skeleton label="bird" source="manual" z_order="0" group_id="3">
      <points label="beak" source="manual" outside="0" occluded="0" points="10.50,20.25"></points>
      <points label="head" source="manual" outside="0" occluded="1" points="30.00,31.00"></points>
      <points label="tail" source="manual" outside="1" occluded="0" points="0.00,0.00"></points>
    </skeleton>
    <points label="corners" source="manual" occluded="0" points="1.00,2.00;3.00,4.00;5.00,6.00" z_order="0"></points>
  </image>
  <image id="1" name="frame_1.jpg" width="120" height="90">
    <skeleton label="bird" source="manual" z_order="0">
      <points label="tail" source="manual" outside="0" occluded="0" points="100,80"></points>
      <points label="beak" source="manual" outside="0" occluded="0" points="5,6"></points>
    </skeleton>
    <skeleton label="bird" source="manual" z_order="0">
      <points label="head" source="manual" outside="0" occluded="0" points="50,40"></points>
    </skeleton>
  </image>
</annotations>`,
    );
    const r = await importDataset(store, { format: 'cvat', root });
    expect(r).toMatchObject({ name: 'cvat-hand', images: 2, categories: 2, annotations: 4 });
    const c = await contents(r.datasetId);
    expect(c.categories).toEqual([
      {
        name: 'bird',
        keypoints: [
          { name: 'beak', color: '#d12345' },
          { name: 'head', color: '#350dea' },
          { name: 'tail', color: '#479ffe' },
        ],
        skeleton: [
          [1, 2],
          [0, 1],
        ],
        flipPairs: [],
      },
      { name: 'corners', keypoints: ['1', '2', '3'].map((name, k) => ({ name, color: defaultKeypointColor(k) })), skeleton: [], flipPairs: [] },
    ]);
    expect(c.annotations).toEqual([
      {
        image: 'images/frame_0.jpg',
        category: 'bird',
        instance: 0,
        keypoints: [
          { kp: 0, x: 10.5, y: 20.25, visibility: 2 },
          { kp: 1, x: 30, y: 31, visibility: 1 },
        ],
      },
      {
        image: 'images/frame_0.jpg',
        category: 'corners',
        instance: 0,
        keypoints: [
          { kp: 0, x: 1, y: 2, visibility: 2 },
          { kp: 1, x: 3, y: 4, visibility: 2 },
          { kp: 2, x: 5, y: 6, visibility: 2 },
        ],
      },
      {
        image: 'images/frame_1.jpg',
        category: 'bird',
        instance: 0,
        keypoints: [
          { kp: 0, x: 5, y: 6, visibility: 2 },
          { kp: 2, x: 100, y: 80, visibility: 2 },
        ],
      },
      { image: 'images/frame_1.jpg', category: 'bird', instance: 1, keypoints: [{ kp: 1, x: 50, y: 40, visibility: 2 }] },
    ]);
    // the box grouped with the first bird is its box; the ungrouped box is no object's
    const boxes = await store.read((db) => new ImagesRepo(db).annotationsOfDataset(r.datasetId).map((a) => a.bbox));
    expect(boxes).toEqual([[5, 6, 50.5, 60], null, null, null]);
  });
});

// ------------------------------------------------------------------------------------------------
// Broken files
// ------------------------------------------------------------------------------------------------

/** Imports and expects a rejection matching `pattern`, with the database unchanged. */
async function expectRejected(req: ImportRequest, pattern: RegExp): Promise<void> {
  const before = snapshotDb(store.file);
  const err = await importDataset(store, req).then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err, 'the import should have failed').not.toBeNull();
  expect(err!.message).toMatch(pattern);
  expect(snapshotDb(store.file)).toEqual(before);
}

let caseNo = 0;
/** A fresh export of the source dataset in `format`, its main file edited. */
async function brokenExport(format: 'labelstudio' | 'cvat', edit: (text: string) => string): Promise<string> {
  const out = path.join(tmp, 'broken', `${format}-${++caseNo}`);
  await store.read((db) => exportDataset(db, cocoId, format, out));
  const file = path.join(out, format === 'cvat' ? 'annotations.xml' : 'tasks.json');
  fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
  return out;
}

type Task = { id: number; data: Record<string, unknown>; annotations: { result: Record<string, unknown>[] }[] };
const editTasks = (fn: (tasks: Task[]) => void) => (text: string) => {
  const tasks = JSON.parse(text) as Task[];
  fn(tasks);
  return JSON.stringify(tasks);
};

describe('Label Studio bad input', () => {
  it('malformed JSON names the file, line and column', async () => {
    const root = await brokenExport('labelstudio', (t) => t.replace('"annotations"', '"annotations" "'));
    await expectRejected({ format: 'labelstudio', root }, /^tasks\.json: malformed JSON: .*\(line \d+, column \d+\)/);
  });

  it('a task without data names the task', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => delete (t[1] as Partial<Task>).data),
    );
    await expectRejected({ format: 'labelstudio', root }, /^tasks\.json: task id 2: missing 'data'/);
  });

  it('a label the config does not list names the task, the result and the labels there are', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => ((t[0]!.annotations[0]!.result[0]!.value as { keypointlabels: string[] }).keypointlabels = ['elbow'])),
    );
    await expectRejected(
      { format: 'labelstudio', root },
      /^tasks\.json: task id 1, result 't1-1-0-0': unknown keypoint label 'elbow': <KeyPointLabels name="person"> in label_config\.xml lists 'nose', /,
    );
  });

  it('a result of an unknown control names it', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => (t[0]!.annotations[0]!.result[0]!.from_name = 'people')),
    );
    await expectRejected({ format: 'labelstudio', root }, /task id 1, result 't1-1-0-0': from_name 'people' is not a <KeyPointLabels> of the labelling config label_config\.xml/);
  });

  it('coordinates outside 0-100 percent name the keypoint', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => ((t[0]!.annotations[0]!.result[0]!.value as { x: number }).x = 104.5)),
    );
    await expectRejected({ format: 'labelstudio', root }, /task id 1, result 't1-1-0-0': keypoint 'nose' at \(104\.5%, .*\) lies outside the image/);
  });

  it('two labels on one keypoint is the wrong count', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => ((t[0]!.annotations[0]!.result[0]!.value as { keypointlabels: string[] }).keypointlabels = ['nose', 'left_eye'])),
    );
    await expectRejected({ format: 'labelstudio', root }, /task id 1, result 't1-1-0-0': 'value\.keypointlabels' must hold exactly one label, got \["nose","left_eye"\]/);
  });

  it('a stated image size that is not the image names the result', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => (t[0]!.annotations[0]!.result[0]!.original_width = 999)),
    );
    await expectRejected({ format: 'labelstudio', root }, /task id 1, result 't1-1-0-0': says images\/.*\.jpg is 999x\d+ but the image is/);
  });

  it('an image that is not there names the task', async () => {
    const root = await brokenExport(
      'labelstudio',
      editTasks((t) => (t[0]!.data.image = '/data/local-files/?d=images/nope.jpg')),
    );
    await expectRejected({ format: 'labelstudio', root }, /^tasks\.json: task id 1: no file under the dataset root matches 'images\/nope\.jpg'/);
  });

  it('a broken sd4match comment in the config names it', async () => {
    const root = await brokenExport('labelstudio', (t) => t);
    const cfg = path.join(root, 'label_config.xml');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('"flipPairs":[["left_eye","right_eye"]', '"flipPairs":[["left_eye","third_eye"]'));
    await expectRejected({ format: 'labelstudio', root }, /^label_config\.xml: the sd4match comment, category 'person': 'flipPairs' names unknown keypoint "third_eye"/);
  });
});

describe('CVAT bad input', () => {
  it('malformed XML names the file and the line', async () => {
    const root = await brokenExport('cvat', (t) => t.replace('</skeleton>', '</skeletn>'));
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: malformed XML: .*\(line \d+, column \d+\)/);
  });

  it('an unknown label names the image and the shape', async () => {
    const root = await brokenExport('cvat', (t) => t.replace('<skeleton label="widget"', '<skeleton label="gadget"'));
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: image id \d+ '.*\.jpg', <skeleton> 1 of 'gadget': unknown label 'gadget': <meta> lists 'person', 'widget'/);
  });

  it('an unknown point in a skeleton names it and the points there are', async () => {
    const root = await brokenExport('cvat', (t) => t.replace('<points label="handle"', '<points label="grip"'));
    await expectRejected({ format: 'cvat', root }, /<skeleton> 1 of 'widget': unknown point 'grip': skeleton 'widget' has 'tip', 'base', 'handle'/);
  });

  it('two points in one keypoint is the wrong count', async () => {
    const root = await brokenExport('cvat', (t) => t.replace(/(<points label="tip"[^>]*points=")([^"]*)"/, '$1$2;1,1"'));
    await expectRejected({ format: 'cvat', root }, /<skeleton> 1 of 'widget': point 'tip' must have points="x,y" \(one point\)/);
  });

  it('a points shape with another number of points than the others of its label is the wrong count', async () => {
    const root = path.join(tmp, 'cvat-points-count');
    await writeImage(root, { rel: 'a.jpg', width: 50, height: 50, format: 'jpeg' });
    fs.writeFileSync(
      path.join(root, 'annotations.xml'),
      `<annotations><version>1.1</version><meta><project><labels><label><name>pts</name><type>points</type></label></labels></project></meta>
<image id="4" name="a.jpg" width="50" height="50"><points label="pts" occluded="0" points="1,1;2,2"/><points label="pts" occluded="0" points="1,1;2,2;3,3"/></image></annotations>`,
    );
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: image id 4 'a\.jpg', <points> 2 of 'pts': has 3 points, but the shapes of label 'pts' have 2/);
  });

  it('a keypoint outside the image names the image, the shape and the keypoint', async () => {
    const root = await brokenExport('cvat', (t) => t.replace(/(<points label="tip" source="manual" outside="0"[^>]*points=")[^"]*"/, '$19999,1"'));
    await expectRejected({ format: 'cvat', root }, /<skeleton> 1 of 'widget': keypoint 'tip' \(9999, 1\) lies outside the image images\/.*\.jpg/);
  });

  it('a grouped box with its corners the wrong way round names the box', async () => {
    const root = await brokenExport('cvat', (t) =>
      t.replace(
        '<skeleton label="widget" source="manual" z_order="0">',
        '<box label="widget" xtl="9" ytl="1" xbr="2" ybr="3" group_id="5"></box><skeleton label="widget" source="manual" z_order="0" group_id="5">',
      ),
    );
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: image id 0 '.*', <box> 1 \(group 5\): needs numbers xtl <= xbr and ytl <= ybr, got \["9","1","2","3"\]/);
  });

  it('an image without its size names the image', async () => {
    const root = await brokenExport('cvat', (t) => t.replace(/ width="\d+" height="\d+">/, '>'));
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: image id 0 '.*': width and height must be positive integers/);
  });

  it('a file without labels in its meta says where they should be', async () => {
    const root = await brokenExport('cvat', (t) => t.replace(/<labels>[\s\S]*<\/labels>/, ''));
    await expectRejected({ format: 'cvat', root }, /^annotations\.xml: <meta>: has no <labels>/);
  });
});

describe('the CLI', () => {
  it('datasets export --format labelstudio|cvat and import --format labelstudio|cvat, and a broken file as one error line', async () => {
    const db = path.join(tmp, 'cli.db');
    expect((await runCli(['--db', db, 'import', '--format', 'coco', '--root', cocoRoot, '--name', 'src', '--quiet'])).code).toBe(0);
    const ls = path.join(tmp, 'cli-ls');
    const e1 = await runCli(['--db', db, 'datasets', 'export', 'src', '--format', 'labelstudio', '-o', ls]);
    expect(e1.stderr).toBe('');
    expect(e1.stdout).toMatch(/^wrote labelstudio folder .*cli-ls: 4 images/);
    const i1 = await runCli(['--db', db, 'import', '--format', 'labelstudio', '--root', ls, '--annotations', path.join(ls, 'tasks.json'), '--json', '--quiet']);
    expect(JSON.parse(i1.stdout)).toMatchObject({ name: 'cli-ls', format: 'labelstudio', images: 4, categories: 2 });
    const cv = path.join(tmp, 'cli-cvat');
    expect((await runCli(['--db', db, 'datasets', 'export', 'cli-ls', '--format', 'cvat', '-o', cv])).code).toBe(0);
    const i2 = await runCli(['--db', db, 'import', '--format', 'cvat', '--root', cv, '--json', '--quiet']);
    expect(JSON.parse(i2.stdout)).toMatchObject({ name: 'cli-cvat', format: 'cvat', images: 4, categories: 2 });
    const xml = path.join(cv, 'annotations.xml');
    fs.writeFileSync(xml, fs.readFileSync(xml, 'utf8').replace('<points label="tip"', '<points label="grip"'));
    expectCleanFailure(await runCli(['--db', db, 'import', '--format', 'cvat', '--root', cv, '--quiet']), /annotations\.xml: image id \d+ '.*', <skeleton> 1 of 'widget': unknown point 'grip'/);
  }, 120_000);
});

/**
 * Bad input never leaves a partial import: each broken dataset gives an error naming the file and
 * the entry (or, with skipInvalid, a skipped-entry line in the report), and the database is
 * byte-for-byte unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, type ImportRequest } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { PairsRepo } from '../../src/main/store/repositories/index.js';
import { genCoco, genFolder, genPfPascal, genPfWillow, genSpair } from '../helpers/dataset-gen.js';
import { writeMat } from '../helpers/mat5-writer.js';
import { snapshotDb } from '../helpers/store-snapshot.js';

type Kind = 'spair' | 'pfpascal' | 'pfwillow' | 'coco' | 'folder';

let tmp: string;
let store: Store;
const templates = new Map<Kind, string>();
let counter = 0;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bad-'));
  store = Store.open(path.join(tmp, 'test.db'));
  const gens = { spair: genSpair, pfpascal: genPfPascal, pfwillow: genPfWillow, coco: genCoco, folder: genFolder };
  for (const [kind, gen] of Object.entries(gens) as [Kind, (root: string) => Promise<unknown>][]) {
    const root = path.join(tmp, 'templates', kind);
    await gen(root);
    templates.set(kind, root);
  }
  // The database already holds data: a valid import of every template.
  for (const [kind, root] of templates) await importDataset(store, { format: kind, root, name: `existing ${kind}` });
});
afterAll(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh copy of a valid dataset of `kind`. */
function copyOf(kind: Kind): string {
  const dst = path.join(tmp, 'cases', `${kind}-${++counter}`);
  fs.cpSync(templates.get(kind)!, dst, { recursive: true });
  return dst;
}

function editJson(abs: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(abs, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(abs, JSON.stringify(j));
}

function firstPairJson(root: string, split = 'trn'): { rel: string; abs: string; json: Record<string, unknown> } {
  const line = fs.readFileSync(path.join(root, `Layout/large/${split}.txt`), 'utf8').split('\n')[0]!;
  const rel = `PairAnnotation/${split}/${line}.json`;
  const abs = path.join(root, rel);
  return { rel, abs, json: JSON.parse(fs.readFileSync(abs, 'utf8')) as Record<string, unknown> };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Imports and expects a rejection matching `pattern`, with the database unchanged. */
async function expectRejected(req: ImportRequest, pattern: RegExp, code?: string): Promise<void> {
  const before = snapshotDb(store.file);
  const err = await importDataset(store, req).then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err, 'the import should have failed').not.toBeNull();
  expect(err!.message).toMatch(pattern);
  expect(err!.message).not.toMatch(/\n/);
  if (code) expect(err!.code).toBe(code);
  expect(snapshotDb(store.file)).toEqual(before);
}

describe('SPair-71k bad input', () => {
  it('a missing image names the image and the pair that needs it', async () => {
    const root = copyOf('spair');
    const { json } = firstPairJson(root);
    const img = `JPEGImages/${json.category as string}/${json.src_imname as string}`;
    fs.rmSync(path.join(root, img));
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(img)}: image file is missing \\(referenced by PairAnnotation/\\w+/.+\\.json\\)`), 'NOT_FOUND');
  });

  it('malformed JSON names the annotation file', async () => {
    const root = copyOf('spair');
    const { rel, abs } = firstPairJson(root, 'val');
    fs.writeFileSync(abs, '{"src_imname": "a.jpg", "trg_imname": ');
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(rel)}: malformed JSON`), 'DATASET_INVALID');
  });

  it('a keypoint outside its image names the pair, the keypoint and the image size', async () => {
    const root = copyOf('spair');
    const { rel, abs, json } = firstPairJson(root);
    const [w] = json.src_imsize as number[];
    editJson(abs, (j) => ((j.src_kps as number[][])[0] = [w! + 5.5, 1]));
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(rel)}: keypoint 0 \\(${w! + 5.5}, 1\\) lies outside the source image JPEGImages/.+ \\(${w}x\\d+\\)`));
  });

  it('a pair whose keypoint counts differ names the file and both counts', async () => {
    const root = copyOf('spair');
    const { rel, abs, json } = firstPairJson(root, 'test');
    const n = (json.src_kps as unknown[]).length;
    editJson(abs, (j) => (j.trg_kps as unknown[]).pop());
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(rel)}: keypoint counts differ: src_kps has ${n} points, trg_kps has ${n - 1}`));
  });

  it('a truncated JPEG is refused as corrupt, naming it', async () => {
    const root = copyOf('spair');
    const { json } = firstPairJson(root);
    const img = `JPEGImages/${json.category as string}/${json.trg_imname as string}`;
    const buf = fs.readFileSync(path.join(root, img));
    fs.writeFileSync(path.join(root, img), buf.subarray(0, Math.floor(buf.length * 0.6)));
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(img)}: corrupt or truncated jpeg image`), 'IMAGE_INVALID');
  });

  it('an unknown category names the file and the category', async () => {
    const root = copyOf('spair');
    const { rel, abs } = firstPairJson(root);
    editJson(abs, (j) => (j.category = 'spaceship'));
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(rel)}: category 'spaceship' does not match`));
    const layout = path.join(root, 'Layout/large/trn.txt');
    const lines = fs.readFileSync(layout, 'utf8').split('\n');
    const renamed = lines[0]!.replace(/:[^:]+$/, ':spaceship');
    fs.renameSync(abs, path.join(root, `PairAnnotation/trn/${renamed}.json`));
    fs.writeFileSync(layout, [renamed, ...lines.slice(1)].join('\n'));
    await expectRejected({ format: 'spair', root }, new RegExp(`^PairAnnotation/trn/${esc(renamed)}\\.json: unknown category 'spaceship' \\(no folder JPEGImages/spaceship/\\)`));
  });

  it('a malformed layout line names the layout file and the line', async () => {
    const root = copyOf('spair');
    const layout = path.join(root, 'Layout/large/trn.txt');
    const lines = fs.readFileSync(layout, 'utf8').split('\n');
    lines.splice(1, 0, 'this is not a pair');
    fs.writeFileSync(layout, lines.join('\n'));
    await expectRejected({ format: 'spair', root }, /^Layout\/large\/trn\.txt: line 2: 'this is not a pair' is not <id>-<source>-<target>:<category>/);
  });

  it('an image size that disagrees with the file names the annotation', async () => {
    const root = copyOf('spair');
    const { rel, abs, json } = firstPairJson(root);
    editJson(abs, (j) => (j.src_imsize = [1, 1, 3]));
    await expectRejected({ format: 'spair', root }, new RegExp(`^${esc(rel)}: says JPEGImages/${esc(json.category as string)}/${esc(json.src_imname as string)} is 1x1 but the image is \\d+x\\d+`));
  });

  it('says how many more problems there are', async () => {
    const root = copyOf('spair');
    for (const split of ['trn', 'val']) fs.writeFileSync(firstPairJson(root, split).abs, 'nope');
    await expectRejected({ format: 'spair', root }, /malformed JSON.*\(and 1 more problem; skip invalid entries with --skip-invalid to import the rest\)$/);
  });

  it('a failed re-import of an existing dataset leaves it as it was', async () => {
    const root = templates.get('spair')!;
    const { abs } = firstPairJson(root);
    const original = fs.readFileSync(abs);
    fs.writeFileSync(abs, '[');
    try {
      await expectRejected({ format: 'spair', root }, /malformed JSON/);
    } finally {
      fs.writeFileSync(abs, original);
    }
  });

  it('with skipInvalid, leaves the bad entries out and lists them with their reasons', async () => {
    const root = copyOf('spair');
    const bad = firstPairJson(root, 'val');
    fs.writeFileSync(bad.abs, '{');
    const outside = firstPairJson(root, 'test');
    editJson(outside.abs, (j) => ((j.trg_kps as number[][])[0] = [-3, 2]));
    const total = ['trn', 'val', 'test'].reduce(
      (n, s) =>
        n +
        fs
          .readFileSync(path.join(root, `Layout/large/${s}.txt`), 'utf8')
          .trim()
          .split('\n').length,
      0,
    );
    const report = await importDataset(store, { format: 'spair', root, skipInvalid: true, name: 'partial' });
    expect(report.pairs).toBe(total - 2);
    expect(report.skipped).toEqual([
      { file: bad.rel, reason: expect.stringMatching(/^malformed JSON/) },
      { file: outside.rel, reason: expect.stringMatching(/^keypoint 0 \(-3, 2\) lies outside the target image/) },
    ]);
    expect(await store.read((db) => new PairsRepo(db).count(report.datasetId))).toBe(total - 2);
  });
});

describe('PF-Pascal bad input', () => {
  function firstRow(root: string, split = 'trn'): { src: string; trg: string; cls: number } {
    const [, row] = fs.readFileSync(path.join(root, `${split}_pairs.csv`), 'utf8').split('\n');
    const [src, trg, cls] = row!.split(',');
    return { src: src!, trg: trg!, cls: Number(cls) };
  }
  const PASCAL = ['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog'];
  const matOf = (img: string, cls: number) => `PF-dataset-PASCAL/Annotations/${PASCAL[cls - 1]}/${path.posix.basename(img, '.jpg')}.mat`;

  it('a malformed .mat file names the file and the CSV line using it', async () => {
    const root = copyOf('pfpascal');
    const { src, cls } = firstRow(root);
    const mat = matOf(src, cls);
    const buf = fs.readFileSync(path.join(root, mat));
    fs.writeFileSync(path.join(root, mat), buf.subarray(0, buf.length - 7));
    await expectRejected({ format: 'pfpascal', root }, new RegExp(`^${esc(mat)}: used by trn_pairs\\.csv line 2: not a valid MAT-file`), 'DATASET_INVALID');
  });

  it('a missing .mat file is an error naming it', async () => {
    const root = copyOf('pfpascal');
    const { trg, cls } = firstRow(root, 'val');
    const mat = matOf(trg, cls);
    fs.rmSync(path.join(root, mat));
    await expectRejected({ format: 'pfpascal', root }, new RegExp(`^${esc(mat)}: used by \\w+_pairs\\.csv line \\d+: annotation file is missing`));
  });

  it('a MATLAB v7.3 (HDF5) file is refused with what to do', async () => {
    const root = copyOf('pfpascal');
    const { src, cls } = firstRow(root);
    const mat = matOf(src, cls);
    const header = Buffer.alloc(512, 0);
    header.write('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .', 0, 'latin1');
    fs.writeFileSync(path.join(root, mat), header);
    await expectRejected({ format: 'pfpascal', root }, /MATLAB v7\.3 \(HDF5\) file; re-save it with save\(\.\.\., "-v7"\)/);
  });

  it('a malformed CSV row names the file and line', async () => {
    const root = copyOf('pfpascal');
    const csv = path.join(root, 'test_pairs.csv');
    const lines = fs.readFileSync(csv, 'utf8').split('\n');
    lines[2] = `${lines[2]},extra,fields`;
    fs.writeFileSync(csv, lines.join('\n'));
    await expectRejected({ format: 'pfpascal', root }, /^test_pairs\.csv: line 3: malformed CSV: 5 fields, the header has 3/);
  });

  it('an unknown class names the file, the line and the class', async () => {
    const root = copyOf('pfpascal');
    const csv = path.join(root, 'trn_pairs.csv');
    const lines = fs.readFileSync(csv, 'utf8').split('\n');
    const f = lines[3]!.split(',');
    f[2] = '25';
    lines[3] = f.join(',');
    fs.writeFileSync(csv, lines.join('\n'));
    await expectRejected({ format: 'pfpascal', root }, /^trn_pairs\.csv: line 4: unknown category: class '25' \(PF-Pascal classes are 1\.\.20\)/);
  });

  it('a pair whose .mat files hold different numbers of keypoint rows names both', async () => {
    const root = copyOf('pfpascal');
    const { src, cls } = firstRow(root);
    const mat = matOf(src, cls);
    fs.writeFileSync(
      path.join(root, mat),
      writeMat([
        { name: 'kps', class: 'double', dims: [2, 2], data: [1, 2, 3, 4] },
        { name: 'bbox', class: 'double', dims: [1, 4], data: [0, 0, 5, 5] },
      ]),
    );
    await expectRejected({ format: 'pfpascal', root }, new RegExp(`^trn_pairs\\.csv: line 2: keypoint counts differ: ${esc(mat)} has 2 kps rows, .+\\.mat has 9`));
  });
});

describe('PF-Willow bad input', () => {
  it('a coordinate that is not a number names the line and the column', async () => {
    const root = copyOf('pfwillow');
    const csv = path.join(root, 'test_pairs.csv');
    const lines = fs.readFileSync(csv, 'utf8').split('\r\n');
    const f = lines[2]!.split(',');
    f[4] = 'abc';
    lines[2] = f.join(',');
    fs.writeFileSync(csv, lines.join('\r\n'));
    await expectRejected({ format: 'pfwillow', root }, /^test_pairs\.csv: line 3: malformed CSV: column XA3 is not a number: 'abc'/);
  });

  it('a corrupt PNG is refused, naming it', async () => {
    const root = copyOf('pfwillow');
    const [, row] = fs.readFileSync(path.join(root, 'test_pairs.csv'), 'utf8').split('\r\n');
    const img = row!.split(',')[1]!;
    fs.writeFileSync(path.join(root, img), Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'));
    await expectRejected({ format: 'pfwillow', root }, new RegExp(`^${esc(img)}: not a readable image`), 'IMAGE_INVALID');
  });

  it('an unknown category folder names the line and the category', async () => {
    const root = copyOf('pfwillow');
    const csv = path.join(root, 'test_pairs.csv');
    const text = fs.readFileSync(csv, 'utf8');
    const lines = text.split('\r\n');
    lines[1] = lines[1]!.replaceAll('PF-dataset/car(G)/', 'PF-dataset/tractor(X)/').replaceAll('PF-dataset/duck(S)/', 'PF-dataset/tractor(X)/');
    fs.writeFileSync(csv, lines.join('\r\n'));
    await expectRejected({ format: 'pfwillow', root }, /^test_pairs\.csv: line 2: unknown category 'tractor\(X\)' \(no folder PF-dataset\/tractor\(X\)\/\)/);
  });
});

describe('COCO bad input', () => {
  const ann = (root: string) => path.join(root, 'annotations.json');

  it('an unknown category id names the annotation', async () => {
    const root = copyOf('coco');
    editJson(ann(root), (j) => ((j.annotations as { category_id: number }[])[1]!.category_id = 99));
    await expectRejected({ format: 'coco', root }, /^annotations\.json: annotation id 1001: unknown category: category_id 99 is not in 'categories'/);
  });

  it('a keypoint outside its image names the annotation, the keypoint and the image', async () => {
    const root = copyOf('coco');
    editJson(ann(root), (j) => {
      const a = (j.annotations as { keypoints: number[] }[])[0]!;
      a.keypoints[0] = 1000;
      a.keypoints[2] = 2;
    });
    await expectRejected({ format: 'coco', root }, /^annotations\.json: annotation id 1000: keypoint 'nose' \(1000, [\d.]+\) lies outside the image images\/000000000001\.jpg \(\d+x\d+\)/);
  });

  it('a keypoint list of the wrong length names the annotation and the category', async () => {
    const root = copyOf('coco');
    editJson(ann(root), (j) => (j.annotations as { keypoints: number[] }[])[0]!.keypoints.push(1, 2, 2));
    await expectRejected({ format: 'coco', root }, /^annotations\.json: annotation id 1000: 'keypoints' must hold 5 \[x, y, v\] triplets for category 'person', got 18 numbers/);
  });

  it('malformed JSON names the file', async () => {
    const root = copyOf('coco');
    fs.writeFileSync(ann(root), '{"images": [');
    await expectRejected({ format: 'coco', root }, /^annotations\.json: malformed JSON/);
  });

  it('an image whose stated size disagrees with the file is refused', async () => {
    const root = copyOf('coco');
    editJson(ann(root), (j) => ((j.images as { width: number }[])[2]!.width = 4000));
    await expectRejected({ format: 'coco', root }, /^annotations\.json: image id 102: says images\/000000000003\.jpg is 4000x\d+ but the image is \d+x\d+/);
  });

  it('a file_name that leaves the root is refused', async () => {
    const root = copyOf('coco');
    editJson(ann(root), (j) => ((j.images as { file_name: string }[])[0]!.file_name = '../outside.jpg'));
    await expectRejected({ format: 'coco', root }, /^annotations\.json: image id 100: file_name '\.\.\/outside\.jpg' is refused: the path contains '\.\.'/);
  });
});

describe('folder bad input', () => {
  it('a corrupt JPEG is refused, naming it', async () => {
    const root = copyOf('folder');
    fs.writeFileSync(path.join(root, 'more', 'img_2.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]));
    await expectRejected({ format: 'folder', root }, /^more\/img_2\.jpg: (corrupt or truncated jpeg image|not a readable image)/, 'IMAGE_INVALID');
  });

  it('a symlink to an image outside the root is refused', async () => {
    const root = copyOf('folder');
    const outside = path.join(tmp, 'outside.jpg');
    fs.copyFileSync(path.join(root, 'img_0.jpg'), outside);
    fs.symlinkSync(outside, path.join(root, 'sneaky.jpg'));
    await expectRejected({ format: 'folder', root }, /^sneaky\.jpg: image path leaves the dataset root/, 'FORBIDDEN');
  });

  it('a folder without images is refused', async () => {
    const root = path.join(tmp, 'empty-folder');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'readme.md'), '# nothing here');
    await expectRejected({ format: 'folder', root }, /no images found/);
  });
});

/**
 * One orientation policy (engine/images/orientation.ts), checked with a JPEG whose 64 x 40 stored
 * pixels carry EXIF orientation 6 (displayed 40 x 64, turned a quarter clockwise), against a
 * physically rotated copy and a stored-frame copy without the tag:
 * - a folder dataset (displayed frame): stored size 40 x 64, keypoints bounded by it, thumbnails
 *   rotated, the original served as is (the browser applies the tag), COCO export and re-import
 *   in that frame;
 * - a benchmark (SPair layout, stored frame): stored size 64 x 40, thumbnails not rotated, the
 *   original served as a copy without the tag;
 * - features: the VAE and DINOv2 inputs (and the pipeline's VAE moments) of the tagged file in
 *   either frame equal those of the matching copy; match drawings use the frame's size.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeArgs, JobInfo } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { imageAccess } from '../../src/main/services/app/catalog.js';
import { appliesExifOrientation, frameSize } from '../../src/main/engine/images/orientation.js';
import { probeImage } from '../../src/main/engine/images/probe.js';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import { toEvalPair } from '../../src/main/engine/datasets/pair-geometry.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { loadImageForDino, loadImageForVae } from '../../src/main/engine/sd4match/features/image.js';
import { Pipeline } from '../../src/main/engine/sd4match/features/pipeline.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { drawMatches } from '../../src/main/engine/sd4match/matching/visualize.js';
import { resolveImage } from '../../src/main/transport/image-route.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { DATASET_FORMATS } from '../../src/main/engine/datasets/domain.js';
import { ImagesRepo, PairsRepo } from '../../src/main/store/repositories/index.js';
import { genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { apiCalls } from '../helpers/api-calls.js';

const W = 64;
const H = 40;

/** Stored pixels with no symmetry: gradients along both axes and a bright block near the top-left. */
function pattern(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 3 * (y * w + x);
      const block = x < w / 4 && y < h / 3;
      px[i] = block ? 250 : Math.round((x / (w - 1)) * 200);
      px[i + 1] = block ? 240 : Math.round((y / (h - 1)) * 200);
      px[i + 2] = block ? 20 : 120;
    }
  }
  return px;
}

/** A JPEG of the pattern in w x h stored pixels, tagged with `orientation`. */
function taggedJpeg(w: number, h: number, orientation: number): Promise<Buffer> {
  return sharp(pattern(w, h), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation })
    .toBuffer();
}

async function rgb(file: string | Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  expect(a.dims).toEqual(b.dims);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

let tmp: string;
/** The tagged file, its physically rotated copy (displayed frame) and its untagged copy (stored frame), both PNG. */
let tagged: string;
let rotated: string;
let stored: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-exif-'));
  const bytes = await taggedJpeg(W, H, 6);
  tagged = path.join(tmp, 'tagged.jpg');
  fs.writeFileSync(tagged, bytes);
  // The same decoded pixels, turned (or not) and saved losslessly, without a tag.
  rotated = path.join(tmp, 'rotated.png');
  await sharp(bytes).rotate().png().toFile(rotated);
  stored = path.join(tmp, 'stored.png');
  await sharp(bytes).png().toFile(stored);
  expect((await sharp(tagged).metadata()).orientation).toBe(6);
  expect((await sharp(rotated).metadata()).orientation).toBeUndefined();
  expect((await rgb(rotated)).width).toBe(H);
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the policy', () => {
  it('benchmarks keep the stored frame, user datasets the displayed frame', () => {
    expect(Object.fromEntries(DATASET_FORMATS.map((f) => [f, appliesExifOrientation(f)]))).toEqual({ spair: false, pfpascal: false, pfwillow: false, folder: true, coco: true });
    expect(frameSize({ width: W, height: H, orientation: 6 }, true)).toEqual({ width: H, height: W });
    expect(frameSize({ width: W, height: H, orientation: 6 }, false)).toEqual({ width: W, height: H });
    expect(frameSize({ width: W, height: H, orientation: 3 }, true)).toEqual({ width: W, height: H });
  });

  it('probes sizes in the asked-for frame and reports the tag', async () => {
    expect(await probeImage(tagged, 'tagged.jpg', { orient: true })).toMatchObject({ width: H, height: W, storedWidth: W, storedHeight: H, orientation: 6 });
    expect(await probeImage(tagged, 'tagged.jpg')).toMatchObject({ width: W, height: H, orientation: 6 });
    expect(await probeImage(rotated, 'rotated.png', { orient: true })).toMatchObject({ width: H, height: W, orientation: 1 });
  });
});

describe('features in the image frame', () => {
  it('VAE input of the tagged file equals the rotated copy with orientation applied, the stored copy without', async () => {
    for (const flip of [false, true]) {
      const a = await loadImageForVae(tagged, 32, { orient: true, flip });
      const b = await loadImageForVae(rotated, 32, { flip });
      expect(a.original).toEqual({ width: H, height: W });
      expect(maxAbsDiff(a.pixels, b.pixels)).toBeLessThanOrEqual(1e-6);
      const c = await loadImageForVae(tagged, 32, { flip });
      const d = await loadImageForVae(stored, 32, { flip });
      expect(c.original).toEqual({ width: W, height: H });
      expect(maxAbsDiff(c.pixels, d.pixels)).toBeLessThanOrEqual(1e-6);
      // and the two frames really differ
      expect(maxAbsDiff(a.pixels, c.pixels)).toBeGreaterThan(0.1);
    }
  });

  it('DINOv2 input (centre crop and full frame) follows the same frame', async () => {
    for (const fill of [false, true]) {
      expect(maxAbsDiff(await loadImageForDino(tagged, { orient: true, fill }), await loadImageForDino(rotated, { fill }))).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(await loadImageForDino(tagged, { fill }), await loadImageForDino(stored, { fill }))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('match drawings size each image in its frame', async () => {
    const out = path.join(tmp, 'matches.png');
    await drawMatches(tagged, tagged, [{ src: [20, 60], pred: [20, 60] }], out, 64, { orient: true });
    expect((await sharp(out).metadata()).width).toBe(40 + 8 + 40);
    await drawMatches(tagged, tagged, [{ src: [60, 20], pred: [60, 20] }], out, 40);
    expect((await sharp(out).metadata()).width).toBe(64 + 8 + 64);
  });
});

describe.skipIf(!HAVE_FIXTURES)('pipeline VAE moments in the dataset frame (tiny SD)', () => {
  let sd: SdModel;
  let dir: string;
  beforeAll(() => {
    dir = path.join(tmp, 'pipe');
    sd = SdModel.open(tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd')), { cacheDir: path.join(dir, 'cache') });
  }, 120_000);
  afterAll(async () => {
    await sd?.dispose();
  });

  it('a folder pair reads the tagged file turned, a benchmark pair as stored, from one shared cache', async () => {
    const pipe = new Pipeline(sd, { kind: 'empty' }, { size: 64, timestep: 50, ensemble: 1, seed: 0 }, new TensorCache(path.join(dir, 'tensors')));
    const side = (file: string, width: number, height: number) => ({ imageId: 1, path: file, width, height, sha256: 'same-content', bbox: null, kps: new Float64Array(0) });
    const record = (format: 'folder' | 'spair') => ({
      id: 1,
      datasetId: 1,
      format,
      split: 'test' as const,
      name: 'p',
      ordinal: 0,
      categoryId: 1,
      category: 'c',
      nPts: 0,
      src: format === 'folder' ? side(tagged, H, W) : side(tagged, W, H),
      trg: format === 'folder' ? side(tagged, H, W) : side(tagged, W, H),
      kpIds: null,
      flip: 0 as const,
      flags: { viewpointVariation: null, scaleVariation: null, truncation: null, occlusion: null, mirror: null },
    });
    const folder = toEvalPair(record('folder'));
    const spair = toEvalPair(record('spair'));
    expect([folder.src.orient, spair.src.orient]).toEqual([true, false]);
    const turned = await pipe.moments(folder.src);
    const asStored = await pipe.moments(spair.src);
    const rotatedRef = await pipe.moments({ file: rotated, key: 'rotated', width: H, height: W });
    const storedRef = await pipe.moments({ file: stored, key: 'stored', width: W, height: H });
    expect(maxAbsDiff(turned, rotatedRef)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(asStored, storedRef)).toBeLessThanOrEqual(1e-5);
    // the same content hash in two frames is two cache entries
    expect(maxAbsDiff(turned, asStored)).toBeGreaterThan(1e-3);
  });
});

describe('datasets, annotation, thumbnails, serving and COCO export', () => {
  let dbFile: string;
  let api: Api;
  let client: InMemoryClient;

  const { ok, fail, finished } = apiCalls(
    () => client,
    () => api,
  );
  async function importJob(args: InvokeArgs<'datasets:import'>): Promise<JobInfo> {
    const { jobId } = await ok('datasets:import', args);
    return finished(jobId);
  }
  const imageRow = (id: number) => api.context.services().store.read((db) => new ImagesRepo(db).get(id)!);

  let folderRoot: string;
  let folderId: number;
  let taggedId: number;
  let rotatedId: number;

  beforeAll(async () => {
    dbFile = path.join(tmp, 'w.db');
    api = createApi({ db: dbFile });
    client = createInMemoryClient(api);
    folderRoot = path.join(tmp, 'phone');
    fs.mkdirSync(folderRoot);
    fs.copyFileSync(tagged, path.join(folderRoot, 'portrait.jpg'));
    fs.copyFileSync(rotated, path.join(folderRoot, 'turned.png'));
    const job = await importJob({ format: 'folder', root: folderRoot });
    expect(job.state).toBe('completed');
    folderId = (job.result as { datasetId: number }).datasetId;
    const items = (await ok('images:list', { datasetId: folderId })).items;
    taggedId = items.find((i) => i.path === 'portrait.jpg')!.id;
    rotatedId = items.find((i) => i.path === 'turned.png')!.id;
  });
  afterAll(async () => {
    client?.close();
    await api?.close();
  });

  it('a folder dataset stores the displayed size of the tagged photo', async () => {
    const items = (await ok('images:list', { datasetId: folderId })).items;
    expect(items.find((i) => i.id === taggedId)).toMatchObject({ width: H, height: W });
    expect(items.find((i) => i.id === rotatedId)).toMatchObject({ width: H, height: W });
  });

  it('annotation keypoints are bounded by the displayed frame', async () => {
    const categoryId = (await ok('datasets:get', { id: folderId })).categoryList[0]!.id;
    await ok('categories:set-schema', { categoryId, keypoints: [{ name: 'corner', color: '#e6194b' }], skeleton: [] });
    const key = { imageId: taggedId, categoryId };
    let s = await ok('annotations:get', key);
    // inside the stored 64 x 40 pixels, outside the displayed 40 x 64 frame
    expect(await fail('annotations:save', { ...key, keypoints: [{ kp: 0, x: 60, y: 10, visibility: 2 }], baseVersion: s.version })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/lies outside the image portrait\.jpg \(40x64\)/),
    });
    s = await ok('annotations:save', { ...key, keypoints: [{ kp: 0, x: 39.5, y: 63.25, visibility: 2 }], baseVersion: s.version, action: 'place corner' });
    expect(s.keypoints).toEqual([{ kp: 0, x: 39.5, y: 63.25, visibility: 2 }]);
  });

  it('thumbnails of the tagged photo equal those of the rotated copy', async () => {
    const access = imageAccess(api.context);
    for (const size of [256, 32]) {
      const a = await access.thumbnail(taggedId, size);
      const b = await access.thumbnail(rotatedId, size);
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      expect(a.height).toBeGreaterThan(a.width);
      const [pa, pb] = [await rgb(a.path), await rgb(b.path)];
      expect((await sharp(a.path).metadata()).orientation).toBeUndefined();
      expect(meanAbsDiff(pa.data, pb.data)).toBeLessThan(4);
    }
  });

  it('serves the original of a displayed-frame image as is (the browser applies the tag)', async () => {
    const reply = await resolveImage(api, { id: taggedId, size: null });
    expect(reply).toMatchObject({ kind: 'file', contentType: 'image/jpeg', etag: expect.stringMatching(/-o"$/) });
    expect(reply.kind === 'file' && fs.realpathSync(reply.file)).toBe(fs.realpathSync(path.join(folderRoot, 'portrait.jpg')));
    const thumb = await resolveImage(api, { id: taggedId, size: 64 });
    expect(thumb).toMatchObject({ kind: 'file', etag: expect.stringMatching(/-64e"$/) });
  });

  it('exports COCO with the displayed size and the keypoint as placed, and imports it back in that frame', async () => {
    const file = path.join(tmp, 'coco.json');
    await ok('datasets:export-coco', { id: folderId, file });
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { images: { id: number; file_name: string; width: number; height: number }[]; annotations: { image_id: number; keypoints: number[] }[] };
    expect(doc.images.find((i) => i.file_name === 'portrait.jpg')).toMatchObject({ width: H, height: W });
    expect(doc.annotations.find((a) => a.image_id === taggedId)!.keypoints).toEqual([39.5, 63.25, 2]);

    const job = await importJob({ format: 'coco', root: folderRoot, annotations: file, name: 'phone (coco)' });
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    const cocoId = (job.result as { datasetId: number }).datasetId;
    const img = (await ok('images:list', { datasetId: cocoId })).items.find((i) => i.path === 'portrait.jpg')!;
    expect(img).toMatchObject({ width: H, height: W });
    const detail = await ok('images:get', { id: img.id });
    expect(detail.annotations[0]!.keypoints).toEqual([{ kp: 0, x: 39.5, y: 63.25, visibility: 2 }]);
  });

  it('a COCO file giving the stored size of a tagged photo is refused, saying which frame COCO uses', async () => {
    const file = path.join(tmp, 'stored-size.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        images: [{ id: 1, file_name: 'portrait.jpg', width: W, height: H }],
        categories: [{ id: 1, name: 'thing', keypoints: ['corner'], skeleton: [] }],
        annotations: [{ id: 1, image_id: 1, category_id: 1, keypoints: [60, 10, 2], num_keypoints: 1, bbox: [0, 0, 64, 40], area: 2560, iscrowd: 0 }],
      }),
    );
    const job = await importJob({ format: 'coco', root: folderRoot, annotations: file, name: 'stored size' });
    expect(job.state).toBe('failed');
    expect(JSON.stringify(job.error)).toMatch(/says portrait\.jpg is 64x40 but the image is 40x64 with its EXIF orientation 6 applied \(64x40 as stored\); coco datasets use the displayed frame/);
  });

  describe('a benchmark (SPair layout) with a tagged image keeps the stored frame', () => {
    let spairId: number;
    let imageId: number;
    let rel: string;
    let w: number;
    let h: number;

    beforeAll(async () => {
      const root = path.join(tmp, 'spair');
      const g = await genSpair(root, { categories: ['cat'], imagesPerCategory: 2, pairs: { trn: 0, val: 0, test: 1 }, size: [40, 96] });
      const pair = g.pairs[0]!;
      rel = pair.src;
      ({ width: w, height: h } = g.images.get(rel)!);
      // the same stored size and keypoints, now a tagged file
      fs.writeFileSync(path.join(root, ...rel.split('/')), await taggedJpeg(w, h, 6));
      const job = await importJob({ format: 'spair', root });
      expect(job.state, JSON.stringify(job.error)).toBe('completed');
      spairId = (job.result as { datasetId: number }).datasetId;
      imageId = (await ok('images:list', { datasetId: spairId })).items.find((i) => i.path === rel)!.id;
    });

    it('stores the stored size, and pairs read it unturned', async () => {
      expect(await imageRow(imageId)).toMatchObject({ width: w, height: h, datasetFormat: 'spair' });
      const [p] = await api.context.services().store.read((db) => new PairsRepo(db).list({ datasetId: spairId, split: 'test' }));
      expect(toEvalPair(p!).src).toMatchObject({ width: w, height: h, orient: false });
    });

    it('thumbnails are not rotated', async () => {
      const t = await imageAccess(api.context).thumbnail(imageId, 256);
      expect([t.width, t.height]).toEqual([w, h]);
      const want = await rgb(
        await sharp(path.join(tmp, 'spair', ...rel.split('/')))
          .jpeg({ quality: 82 })
          .toBuffer(),
      );
      expect(meanAbsDiff((await rgb(t.path)).data, want.data)).toBeLessThan(4);
    });

    it('serves the original as an untagged copy in the stored frame, so a browser cannot turn it', async () => {
      const reply = await resolveImage(api, { id: imageId, size: null });
      expect(reply).toMatchObject({ kind: 'file', contentType: 'image/jpeg', etag: expect.stringMatching(/-f"$/) });
      if (reply.kind !== 'file') return;
      const meta = await sharp(reply.file).metadata();
      expect([meta.width, meta.height, meta.orientation]).toEqual([w, h, undefined]);
      expect(reply.bytes).toBe(fs.statSync(reply.file).size);
      const want = await rgb(path.join(tmp, 'spair', ...rel.split('/')));
      expect(meanAbsDiff((await rgb(reply.file)).data, want.data)).toBeLessThan(2);
      // asked again, the same cached copy; a matching ETag is answered with 304
      const again = await resolveImage(api, { id: imageId, size: null }, reply.etag);
      expect(again).toMatchObject({ kind: 'not-modified', status: 304 });
    });

    it('serves untagged benchmark images as they are', async () => {
      const other = (await ok('images:list', { datasetId: spairId })).items.find((i) => i.id !== imageId)!;
      const reply = await resolveImage(api, { id: other.id, size: null });
      expect(reply).toMatchObject({ kind: 'file', etag: expect.stringMatching(/-o"$/) });
      expect(reply.kind === 'file' && path.basename(reply.file)).toBe(path.basename(other.path));
    });
  });
});

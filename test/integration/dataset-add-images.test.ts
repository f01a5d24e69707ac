/**
 * Adding image files to a dataset over the API (`datasets:add-images`, what the Datasets view's
 * file picker and drop zone send): a real SQLite file, real sharp decoding, real folders. A good
 * batch is copied into the dataset's folder and stored with the rows an import would write; a bad
 * file anywhere in a batch, a batch over the limits, a benchmark dataset and a taken name (when
 * asked to refuse) write nothing at all.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import type { AddImagesReport, DatasetChanged, ImportReportInfo } from '../../src/main/contract/index.js';
import { ADDABLE_IMAGE_EXTENSIONS, MAX_ADD_IMAGES_REQUEST_BYTES, MAX_ADDED_IMAGE_BYTES } from '../../src/main/contract/dataset-images.js';
import { IMAGE_EXTENSIONS, probeImage } from '../../src/main/engine/images/probe.js';
import { decodeFiles, targetFolder } from '../../src/main/services/datasets/add-images.js';
import { startServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { genCoco, genFolder, genSpair, imageBytes } from '../helpers/dataset-gen.js';
import { TestClient, wsUrl } from '../helpers/ws-client.js';

let tmp: string;
let api: Api;
let client: InMemoryClient;
const call = apiCalls(
  () => client,
  () => api,
);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-add-images-'));
  api = createApi({ db: path.join(tmp, 'w.db') });
  client = createInMemoryClient(api);
});

afterAll(async () => {
  client?.close();
  await api?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let serial = 0;

/** Imports a fresh copy of a generated dataset; returns its id and root. */
async function imported(format: 'folder' | 'coco' | 'spair'): Promise<{ id: number; root: string; report: ImportReportInfo }> {
  const root = path.join(tmp, `${format}-${++serial}`);
  if (format === 'folder') await genFolder(root);
  else if (format === 'coco') await genCoco(root);
  else await genSpair(root, { categories: ['cat'], imagesPerCategory: 3, pairs: { trn: 1, val: 1, test: 1 } });
  const { jobId } = await call.ok('datasets:import', { format, root, name: `${format} ${serial}` });
  const job = await call.finished(jobId);
  if (job.state !== 'completed') throw new Error(`import failed: ${job.error?.message}`);
  const report = job.result as ImportReportInfo;
  return { id: report.datasetId, root: report.root, report };
}

const b64 = (buf: Buffer) => buf.toString('base64');

/** A JPEG tagged with EXIF orientation 6: stored 64 x 40, displayed 40 x 64. */
function rotatedJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 40, channels: 3, background: { r: 200, g: 60, b: 30 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** Every file under `dir` (relative, sorted), hidden ones included: what a failed batch must not change. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Image rows of a dataset by path. */
async function rows(datasetId: number) {
  const page = await call.ok('images:list', { datasetId, limit: 1000 });
  return new Map(page.items.map((i) => [i.path, i]));
}

/** Adds a batch; the job's final info. */
async function add(datasetId: number, files: { name: string; data: string }[], onCollision?: 'rename' | 'refuse') {
  const { jobId } = await call.ok('datasets:add-images', { datasetId, files, ...(onCollision ? { onCollision } : {}) });
  return call.finished(jobId);
}

describe('datasets:add-images', () => {
  it('copies a good batch into a folder dataset and stores the rows an import would write', async () => {
    const ds = await imported('folder');
    const changed: DatasetChanged[] = [];
    const off = client.on('dataset:changed', (e) => changed.push(e));
    const jpeg = await imageBytes(50, 30, 'jpeg', 3);
    const png = await imageBytes(33, 44, 'png', 5);
    const rotated = await rotatedJpeg();
    const job = await add(ds.id, [
      { name: 'new_a.jpg', data: b64(jpeg) },
      { name: 'new b.png', data: b64(png) },
      { name: 'turned.JPG', data: b64(rotated) },
    ]);
    off();
    expect(job.state, job.error?.message).toBe('completed');
    const report = job.result as AddImagesReport;
    expect(report.folder).toBe(ds.root);
    expect(report.added.map((a) => [a.path, a.renamed])).toEqual([
      ['new_a.jpg', false],
      ['new b.png', false],
      ['turned.JPG', false],
    ]);
    expect(report.note).toBeNull();
    // the bytes on disk are the bytes sent
    expect(fs.readFileSync(path.join(ds.root, 'new_a.jpg')).equals(jpeg)).toBe(true);
    expect(fs.readFileSync(path.join(ds.root, 'new b.png')).equals(png)).toBe(true);
    // no temporary file is left behind
    expect(listing(ds.root).filter((f) => f.includes('.tmp'))).toEqual([]);
    // the rows: sizes in the folder format's frame (EXIF orientation applied), in the folder's category
    const after = await rows(ds.id);
    expect(after.size).toBe(ds.report.images + 3);
    expect([after.get('turned.JPG')!.width, after.get('turned.JPG')!.height]).toEqual([40, 64]);
    const details = await call.ok('datasets:get', { id: ds.id });
    expect(after.get('new_a.jpg')!.categoryId).toBe(details.categoryList[0]!.id);
    expect(changed).toContainEqual({ id: ds.id, reason: 'imported' });
    // hash, size and format are the importer's: re-importing the folder finds the same rows, changes none
    const detail = await call.ok('images:get', { id: after.get('new b.png')!.id });
    const probe = await probeImage(path.join(ds.root, 'new b.png'), 'new b.png', { orient: true });
    expect([detail.width, detail.height, detail.format, detail.bytes]).toEqual([probe.width, probe.height, probe.format, probe.bytes]);
    const { jobId } = await call.ok('datasets:import', { format: 'folder', root: ds.root });
    const again = await call.finished(jobId);
    expect(again.state).toBe('completed');
    expect((again.result as ImportReportInfo).removed.images).toBe(0);
    const reimported = await rows(ds.id);
    for (const [p, r] of after) expect(reimported.get(p), p).toEqual(r);
  });

  it('writes nothing when a file in the middle of the batch is not a decodable image', async () => {
    const ds = await imported('folder');
    const before = listing(ds.root);
    const beforeRows = await rows(ds.id);
    const good = b64(await imageBytes(40, 40, 'jpeg', 1));
    const truncated = (await imageBytes(120, 90, 'jpeg', 2)).subarray(0, 400);
    const job = await add(ds.id, [
      { name: 'one.jpg', data: good },
      { name: 'broken.jpg', data: b64(truncated) },
      { name: 'three.jpg', data: good },
    ]);
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('IMAGE_INVALID');
    expect(job.error?.message).toMatch(/^file 2 of 3, broken\.jpg: corrupt or truncated jpeg image .*; nothing was added$/);
    // the field names the file by its index in the batch: the dialog marks it
    expect(job.error?.field).toBe('files.1');
    expect(listing(ds.root)).toEqual(before);
    expect(await rows(ds.id)).toEqual(beforeRows);
    // not an image at all, under an image's name
    const text = await add(ds.id, [{ name: 'notes.png', data: b64(Buffer.from('captured on the bench\n')) }]);
    expect(text.error?.message).toMatch(/^file 1 of 1, notes\.png: not a readable image/);
    expect(listing(ds.root)).toEqual(before);
  });

  it('refuses a file over the size limit, naming the file and the limit, before anything is decoded', async () => {
    const ds = await imported('folder');
    const before = listing(ds.root);
    const big = 'A'.repeat(Math.ceil(((MAX_ADDED_IMAGE_BYTES + 1) * 4) / 3 / 4) * 4);
    const err = await call.fail('datasets:add-images', {
      datasetId: ds.id,
      files: [
        { name: 'small.jpg', data: b64(await imageBytes(20, 20, 'jpeg')) },
        { name: 'huge.jpg', data: big },
      ],
    });
    expect(err.code).toBe('TOO_LARGE');
    expect(err.field).toBe('files.1');
    expect(err.message).toBe(`file 2 of 2 ('huge.jpg') is 32 MiB; an added image may be at most 32 MiB; nothing was added`);
    expect(listing(ds.root)).toEqual(before);
    // the batch as a whole (the same check the handler runs, without building an 85 MB request here)
    const each = 'A'.repeat(Math.floor((MAX_ADDED_IMAGE_BYTES * 3) / 4 / 3) * 4);
    const n = Math.ceil(MAX_ADD_IMAGES_REQUEST_BYTES / ((each.length * 3) / 4)) + 1;
    expect(() => decodeFiles(Array.from({ length: n }, (_, i) => ({ name: `p${i}.jpg`, data: each })))).toThrow(
      /^the \d+ files come to [\d.]+ MiB; one batch may carry at most 64 MiB; add them in several batches \(nothing was added\)$/,
    );
  });

  it('refuses names that are not an image file name', async () => {
    const ds = await imported('folder');
    const data = b64(await imageBytes(20, 20, 'png'));
    for (const [name, why] of [
      ['scan.bmp', "not a supported image type (extension '.bmp'"],
      ['../escape.png', 'folder separator'],
      ['.hidden.png', 'hidden file'],
    ] as const) {
      const err = await call.fail('datasets:add-images', { datasetId: ds.id, files: [{ name, data }] });
      expect(err.code, name).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(`('${name}'): `);
      expect(err.message).toContain(why);
    }
    expect(fs.existsSync(path.join(ds.root, '..', 'escape.png'))).toBe(false);
  });

  it('refuses a benchmark dataset: its images are read-only', async () => {
    const ds = await imported('spair');
    const before = listing(ds.root);
    const err = await call.fail('datasets:add-images', { datasetId: ds.id, files: [{ name: 'x.jpg', data: b64(await imageBytes(20, 20, 'jpeg')) }] });
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/^'spair \d+' is a SPair-71k benchmark: its images come from its annotation files and are read-only; import a folder of images/);
    expect(listing(ds.root)).toEqual(before);
  });

  it('adds a taken name under a numbered one, or refuses the batch when asked to', async () => {
    const ds = await imported('folder');
    const original = fs.readFileSync(path.join(ds.root, 'img_0.jpg'));
    const data = b64(await imageBytes(24, 24, 'jpeg', 6));
    const before = listing(ds.root);
    const refused = await call.fail('datasets:add-images', { datasetId: ds.id, files: [{ name: 'img_0.jpg', data }], onCollision: 'refuse' });
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toContain(`'img_0.jpg' is already taken in ${ds.root}`);
    expect(refused.message).toContain('nothing was added');
    expect(listing(ds.root)).toEqual(before);
    // the default: keep both; a name twice in the batch, and one that differs only in case, too
    const job = await add(ds.id, [
      { name: 'img_0.jpg', data },
      { name: 'img_0.jpg', data },
      { name: 'IMG_1.png', data: b64(await imageBytes(24, 24, 'png', 6)) },
    ]);
    expect(job.state, job.error?.message).toBe('completed');
    const report = job.result as AddImagesReport;
    expect(report.added.map((a) => [a.name, a.path, a.renamed])).toEqual([
      ['img_0.jpg', 'img_0 (2).jpg', true],
      ['img_0.jpg', 'img_0 (3).jpg', true],
      ['IMG_1.png', 'IMG_1 (2).png', true],
    ]);
    expect(fs.readFileSync(path.join(ds.root, 'img_0.jpg')).equals(original)).toBe(true);
    expect(fs.existsSync(path.join(ds.root, 'img_0 (3).jpg'))).toBe(true);
  });

  it('a batch cancelled while it is checked or written leaves no file and no row behind', async () => {
    const ds = await imported('folder');
    const before = listing(ds.root);
    const beforeRows = await rows(ds.id);
    const files = await Promise.all(Array.from({ length: 24 }, async (_, i) => ({ name: `c${i}.png`, data: b64(await imageBytes(300 + i, 200, 'png', i)) })));
    const { jobId } = await call.ok('datasets:add-images', { datasetId: ds.id, files });
    await call.ok('jobs:cancel', { id: jobId });
    const job = await call.finished(jobId);
    // whichever step the cancellation met: all of the batch or none of it
    if (job.state === 'completed') {
      expect((await rows(ds.id)).size).toBe(beforeRows.size + files.length);
    } else {
      expect(job.state).toBe('cancelled');
      expect(listing(ds.root)).toEqual(before);
      expect(await rows(ds.id)).toEqual(beforeRows);
    }
  });

  it("adds to a COCO dataset's images folder and leaves its annotation file as it was", async () => {
    const ds = await imported('coco');
    const jsonBefore = fs.readFileSync(path.join(ds.root, 'annotations.json'));
    const job = await add(ds.id, [{ name: 'extra.png', data: b64(await imageBytes(30, 20, 'png', 4)) }]);
    expect(job.state, job.error?.message).toBe('completed');
    const report = job.result as AddImagesReport;
    expect(report.folder).toBe(path.join(ds.root, 'images'));
    expect(report.added[0]!.path).toBe('images/extra.png');
    expect(report.note).toContain('is not changed: export the dataset to COCO to include the new images');
    expect(fs.readFileSync(path.join(ds.root, 'annotations.json')).equals(jsonBefore)).toBe(true);
    // two categories: the image joins none, so every category lists it until it is annotated
    const row = (await rows(ds.id)).get('images/extra.png')!;
    expect(row.categoryId).toBeNull();
    const details = await call.ok('datasets:get', { id: ds.id });
    for (const c of details.categoryList) {
      const page = await call.ok('images:list', { datasetId: ds.id, categoryId: c.id, search: 'extra' });
      expect(page.total, c.name).toBe(1);
    }
  });

  it('reads a batch larger than the old 16 MiB frame limit over a real WebSocket, and answers TOO_LARGE over the limit', async () => {
    const ds = await imported('folder');
    const server = await startServer({ port: 0, api });
    const ws = await TestClient.connect(wsUrl(server.url));
    try {
      // 20 MiB of base64 in one frame reaches the engine (it is refused for its size, not dropped)
      const big = 'A'.repeat(Math.ceil(((MAX_ADDED_IMAGE_BYTES + 1024) * 4) / 3 / 4) * 4);
      const frame = await ws.invoke('datasets:add-images', { datasetId: ds.id, files: [{ name: 'big.jpg', data: big }] });
      expect(frame).toMatchObject({ error: { code: 'TOO_LARGE', message: expect.stringContaining('at most 32 MiB') } });
      // and a good batch over the socket
      const ok = await ws.invoke('datasets:add-images', { datasetId: ds.id, files: [{ name: 'socket.jpg', data: b64(await imageBytes(20, 20, 'jpeg')) }] });
      expect(ok).toMatchObject({ result: { jobId: expect.any(String) } });
      const job = await call.finished((ok as { result: { jobId: string } }).result.jobId);
      expect(job.state).toBe('completed');
    } finally {
      await ws.close();
      await server.close();
    }
  });
});

describe('add-images helpers', () => {
  it('accepts the extensions a folder import picks up, no more, no fewer', () => {
    expect([...ADDABLE_IMAGE_EXTENSIONS].sort()).toEqual([...IMAGE_EXTENSIONS].sort());
  });

  it('puts new images where most of the dataset is', () => {
    expect(targetFolder([])).toBe('');
    expect(targetFolder(['a.jpg', 'more/b.jpg'])).toBe('');
    expect(targetFolder(['images/a.jpg', 'images/b.jpg', 'c.jpg'])).toBe('images');
  });
});

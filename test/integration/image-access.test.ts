/**
 * Image access by id for the UI: original file and size, thumbnails generated once with sharp and
 * served from the cache afterwards, and paths that would leave the dataset root refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { ImageAccess } from '../../src/main/services/images/access.js';
import { Store } from '../../src/main/store/db.js';
import { ImagesRepo, type ImageRecord } from '../../src/main/store/repositories/index.js';
import { genFolder } from '../helpers/dataset-gen.js';

let tmp: string;
let store: Store;
let images: ImageRecord[];
let root: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-img-'));
  root = path.join(tmp, 'photos');
  await genFolder(root, { images: 6 });
  store = Store.open(path.join(tmp, 'test.db'));
  const report = await importDataset(store, { format: 'folder', root });
  images = await store.read((db) => new ImagesRepo(db).list(report.datasetId));
});
afterAll(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ImageAccess', () => {
  it('gives the original file and its size by id', async () => {
    const access = new ImageAccess(store);
    const img = images[0]!;
    const file = await access.getImage(img.id);
    expect(file).toMatchObject({ id: img.id, relPath: img.path, width: img.width, height: img.height, path: path.join(fs.realpathSync(root), ...img.path.split('/')) });
    const meta = await sharp(file.path).metadata();
    expect([meta.width, meta.height]).toEqual([img.width, img.height]);
    await expect(access.getImage(999_999)).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no image with id 999999' });
  });

  it('generates a thumbnail once, in the cache folder, and serves it from there afterwards', async () => {
    const access = new ImageAccess(store);
    const img = images[1]!;
    const first = await access.thumbnail(img.id, 24);
    expect(first.cached).toBe(false);
    expect(first.path.startsWith(store.cacheDir)).toBe(true);
    const meta = await sharp(first.path).metadata();
    expect(meta.format).toBe('jpeg');
    expect(Math.max(meta.width!, meta.height!)).toBe(24);
    expect(Math.abs(meta.width! / meta.height! - img.width / img.height)).toBeLessThan(0.1);
    const mtime = fs.statSync(first.path).mtimeMs;
    await access.flush();
    const second = await access.thumbnail(img.id, 24);
    expect(second).toMatchObject({ path: first.path, cached: true, width: meta.width, height: meta.height });
    expect(fs.statSync(first.path).mtimeMs).toBe(mtime);
    // A new ImageAccess (another window, a restart) uses the same cached file.
    await access.flush();
    const other = new ImageAccess(store);
    expect((await other.thumbnail(img.id, 24)).cached).toBe(true);
    expect(access.generated + other.generated).toBe(1);
  });

  it('makes concurrent requests for the same thumbnail share one generation, and never enlarges', async () => {
    const access = new ImageAccess(store);
    const img = images[2]!;
    const all = await Promise.all(Array.from({ length: 5 }, () => access.thumbnail(img.id, 512)));
    expect(new Set(all.map((t) => t.path)).size).toBe(1);
    expect(access.generated).toBe(1);
    expect([all[0]!.width, all[0]!.height]).toEqual([img.width, img.height]);
  });

  it('regenerates a thumbnail whose cached file was deleted', async () => {
    const access = new ImageAccess(store);
    const t = await access.thumbnail(images[3]!.id, 32);
    await access.flush();
    fs.rmSync(t.path);
    const again = await access.thumbnail(images[3]!.id, 32);
    expect(again.cached).toBe(false);
    expect(fs.existsSync(again.path)).toBe(true);
  });

  it('drops least recently used thumbnails to stay within a budget', async () => {
    const access = new ImageAccess(store);
    const a = await access.thumbnail(images[4]!.id, 40);
    await new Promise((r) => setTimeout(r, 5));
    const b = await access.thumbnail(images[5]!.id, 40);
    await access.flush();
    // Everything older than a and b goes; then a (older than b) goes.
    await access.pruneThumbnails(a.bytes + b.bytes);
    const left = () => store.read((db) => (db.prepare("SELECT path FROM cache_entries WHERE kind = 'thumbnail' ORDER BY path").all() as { path: string }[]).map((r) => r.path));
    expect(await left()).toEqual([a.path, b.path].sort());
    expect(await access.pruneThumbnails(b.bytes)).toBe(a.bytes);
    expect(await left()).toEqual([b.path]);
    expect(fs.existsSync(a.path)).toBe(false);
    expect(fs.existsSync(b.path)).toBe(true);
  });

  it('refuses an image row whose path leaves the dataset root', async () => {
    const access = new ImageAccess(store);
    const img = images[0]!;
    fs.writeFileSync(path.join(tmp, 'secret.jpg'), fs.readFileSync(path.join(root, ...img.path.split('/'))));
    await store.write((db) => db.prepare('UPDATE images SET path = ? WHERE id = ?').run('../secret.jpg', img.id));
    try {
      await expect(access.getImage(img.id)).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/refusing image path '\.\.\/secret\.jpg'/) });
      await expect(access.thumbnail(img.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await store.write((db) => db.prepare('UPDATE images SET path = ? WHERE id = ?').run(img.path, img.id));
    }
  });

  it('refuses an image file replaced by a symlink to a file outside the root, and reports a missing one', async () => {
    const access = new ImageAccess(store);
    const img = images[5]!;
    const abs = path.join(root, ...img.path.split('/'));
    const saved = fs.readFileSync(abs);
    fs.rmSync(abs);
    try {
      await expect(access.getImage(img.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      fs.symlinkSync(path.join(tmp, 'secret.jpg'), abs);
      await expect(access.getImage(img.id)).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/outside the dataset root/) });
    } finally {
      fs.rmSync(abs, { force: true });
      fs.writeFileSync(abs, saved);
    }
  });

  it('serves images and thumbnails while another writer holds the database (an import mid-transaction)', async () => {
    const access = new ImageAccess(store);
    const cached = await access.thumbnail(images[1]!.id, 24);
    await access.flush();
    const writer = new Database(store.file);
    writer.exec('BEGIN IMMEDIATE');
    try {
      const t0 = performance.now();
      expect((await access.getImage(images[2]!.id)).id).toBe(images[2]!.id);
      expect(await access.thumbnail(images[1]!.id, 24)).toMatchObject({ path: cached.path, cached: true });
      expect((await access.thumbnail(images[2]!.id, 48)).cached).toBe(false);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      writer.exec('COMMIT');
      writer.close();
    }
    await access.flush();
    expect((await access.thumbnail(images[2]!.id, 48)).cached).toBe(true);
  });

  it('checks the thumbnail size', async () => {
    await expect(new ImageAccess(store).thumbnail(images[0]!.id, 5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

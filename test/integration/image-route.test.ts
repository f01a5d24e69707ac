/**
 * Images for the UI by id: `GET /images/<id>` on the browser-mode server (real sockets), and the
 * URL parser of Electron's `sd4match-image://` protocol (the same resolver behind both). Nothing
 * outside a dataset root is ever served, however the request or the stored path is written.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/datasets.js';
import { GeneratedImagesRepo } from '../../src/main/store/repositories/generated-images.js';
import { ImagesRepo } from '../../src/main/store/repositories/images.js';
import { parseImageUrl } from '../../src/main/transport/image-route.js';
import { writeImage } from '../helpers/dataset-gen.js';
import { rawGet } from '../helpers/ws-client.js';

const SECRET = 'top-secret-next-to-the-dataset';

let tmp: string;
let server: RunningServer;
let ids: { good: number; escaping: number; symlinked: number; missing: number; tiff: number };
let generated: { good: number; escaping: number; missing: number };
let pngBytes: Buffer;
let goodBytes: Buffer;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-img-route-'));
  const root = path.join(tmp, 'data');
  const staticDir = path.join(tmp, 'static');
  fs.mkdirSync(staticDir, { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>fixture</title>');
  await writeImage(root, { rel: 'cats/a.jpg', width: 120, height: 80, format: 'jpeg' });
  goodBytes = fs.readFileSync(path.join(root, 'cats', 'a.jpg'));
  fs.writeFileSync(path.join(tmp, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(tmp, 'secret.jpg'), SECRET);
  fs.symlinkSync(path.join(tmp, 'secret.jpg'), path.join(root, 'cats', 'link.jpg'));
  await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } })
    .tiff()
    .toFile(path.join(root, 'scan.tif'));

  const dbFile = path.join(tmp, 'w.db');
  const store = Store.open(dbFile);
  ids = store.writeSync((db) => {
    const d = new DatasetsRepo(db).create({ name: 'cats', format: 'folder', root: fs.realpathSync(root) });
    const images = new ImagesRepo(db);
    const row = (p: string, format = 'jpeg') => images.upsert(d.id, { path: p, categoryId: null, width: 120, height: 80, format, bytes: 1, sha256: createHash('sha256').update(p).digest('hex') });
    // Rows a damaged or hostile database could hold: the image route must not follow them out.
    return { good: row('cats/a.jpg'), escaping: row('../secret.jpg'), symlinked: row('cats/link.jpg'), missing: row('cats/gone.jpg'), tiff: row('scan.tif', 'tiff') };
  });
  // generated images: PNGs in the cache folder's generated/, and rows a damaged database could hold
  fs.mkdirSync(path.join(store.cacheDir, 'generated'), { recursive: true });
  pngBytes = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
  fs.writeFileSync(path.join(store.cacheDir, 'generated', 'a.png'), pngBytes);
  fs.writeFileSync(path.join(store.cacheDir, 'secret.png'), SECRET);
  generated = store.writeSync((db) => {
    const g = new GeneratedImagesRepo(db);
    const row = (key: string, rel: string) =>
      g.put({
        cacheKey: key,
        modelId: null,
        promptId: null,
        label: 'x',
        text: 'x',
        category: null,
        pairId: null,
        seed: 0,
        steps: 1,
        guidance: 1,
        width: 32,
        height: 32,
        settings: {},
        path: rel,
        bytes: 1,
        seconds: 0,
        provider: 'cpu',
      }).id;
    return { good: row('k1', path.join('generated', 'a.png')), escaping: row('k2', path.join('generated', '..', 'secret.png')), missing: row('k3', path.join('generated', 'gone.png')) };
  });
  store.close();
  server = await startServer({ port: 0, staticDir, db: dbFile });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const withToken = (p: string) => `${p}${p.includes('?') ? '&' : '?'}token=${server.token}`;

describe('GET /images/<id>', () => {
  it('serves the original image by id, with its type, an ETag and same-origin isolation', async () => {
    const res = await fetch(`${server.origin}${withToken(`/images/${ids.good}`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(goodBytes)).toBe(true);
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${server.origin}${withToken(`/images/${ids.good}`)}`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });

  it('serves a JPEG thumbnail fitting the asked size', async () => {
    const res = await fetch(`${server.origin}${withToken(`/images/${ids.good}?size=64`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([64, 43]);
  });

  it('serves formats browsers cannot show (TIFF) as JPEG', async () => {
    const res = await fetch(`${server.origin}${withToken(`/images/${ids.tiff}`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
  });

  it('requires the access token', async () => {
    expect((await rawGet(server.origin, `/images/${ids.good}`)).status).toBe(401);
    expect((await rawGet(server.origin, `/images/${ids.good}?token=${server.token.slice(0, -1)}x`)).status).toBe(401);
  });

  it.each([
    '/images/..%2f..%2fsecret.txt',
    '/images/../secret.txt',
    '/images/%2e%2e%2fsecret.txt',
    '/images/%2e%2e/%2e%2e/secret.txt',
    '/images/%252e%252e%252fsecret.txt',
    '/images/..%5c..%5csecret.txt',
    '/images/..\\..\\secret.txt',
    '/images/1/../../secret.txt',
    '/images/1%2f..%2f..%2fsecret.txt',
    '/images/%31',
    '/images/01',
    '/images/-1',
    '/images/1.0',
    '/images/0x1',
    '/images/',
    '/images/1?size=..%2f..%2fsecret',
    '/images/1?size=8',
    '/images/1?size=99999',
  ])('refuses %s', async (p) => {
    const res = await rawGet(server.origin, withToken(p));
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(SECRET);
  });

  it('refuses a stored path that leaves the dataset root', async () => {
    const res = await rawGet(server.origin, withToken(`/images/${ids.escaping}`));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toContain(tmp);
  });

  it('refuses a symlink inside the root that points outside it', async () => {
    const res = await rawGet(server.origin, withToken(`/images/${ids.symlinked}`));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(SECRET);
  });

  it('answers 404 for an unknown id or a file that is gone', async () => {
    expect((await rawGet(server.origin, withToken('/images/987654'))).status).toBe(404);
    expect((await rawGet(server.origin, withToken(`/images/${ids.missing}`))).status).toBe(404);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const res = await fetch(`${server.origin}${withToken(`/images/${ids.good}`)}`, { method: 'POST' });
    expect(res.status).toBe(405);
  });
});

describe('GET /generated/<id>', () => {
  it('serves a generated PNG by id, with an ETag, and only with the token', async () => {
    const res = await fetch(`${server.origin}${withToken(`/generated/${generated.good}`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(pngBytes)).toBe(true);
    const again = await fetch(`${server.origin}${withToken(`/generated/${generated.good}`)}`, { headers: { 'If-None-Match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await rawGet(server.origin, `/generated/${generated.good}`)).status).toBe(401);
  });

  it("never serves a file outside the cache folder's generated/, and 404s what is not there", async () => {
    const escaping = await rawGet(server.origin, withToken(`/generated/${generated.escaping}`));
    expect(escaping.status).toBe(403);
    expect(escaping.body).not.toContain(SECRET);
    expect((await rawGet(server.origin, withToken(`/generated/${generated.missing}`))).status).toBe(404);
    expect((await rawGet(server.origin, withToken('/generated/987654'))).status).toBe(404);
    for (const p of ['/generated/..%2fsecret.png', '/generated/../secret.png', '/generated/01', '/generated/', `/generated/${generated.good}/x`]) {
      const r = await rawGet(server.origin, withToken(p));
      expect(r.status, p).toBe(400);
      expect(r.body).not.toContain(SECRET);
    }
  });
});

describe('sd4match-image:// URLs (Electron)', () => {
  it("reads a generated image's id", () => {
    expect(parseImageUrl('sd4match-image://generated/7')).toEqual({ id: 7, size: null, generated: true });
    expect(parseImageUrl('sd4match-image://generated/..%2fsecret')).toMatchObject({ status: 400 });
    expect(parseImageUrl('sd4match-image://generated/7/8')).toMatchObject({ status: 400 });
  });

  it('reads the id and the thumbnail size', () => {
    expect(parseImageUrl('sd4match-image://image/12')).toEqual({ id: 12, size: null });
    expect(parseImageUrl('sd4match-image://image/12?size=256')).toEqual({ id: 12, size: 256 });
    // URL parsing resolves plain dot segments first: the result is another id, never a path
    expect(parseImageUrl('sd4match-image://image/12/../13')).toEqual({ id: 13, size: null });
  });

  it.each([
    'sd4match-image://image/..%2f..%2fetc%2fpasswd',
    'sd4match-image://image/%2e%2e%2fsecret',
    'sd4match-image://image/%252e%252e%252f',
    'sd4match-image://image/..%5csecret',
    'sd4match-image://image/12/13',
    'sd4match-image://image/12%2f..',
    'sd4match-image://image/abc',
    'sd4match-image://image/',
    'sd4match-image://elsewhere/12',
    'file:///etc/passwd',
    'sd4match-image://image/12?size=-1',
  ])('refuses %s', (url) => {
    expect(parseImageUrl(url)).toMatchObject({ status: 400 });
  });
});

/**
 * What Chromium shows of a JPEG tagged with EXIF orientation 6 (64 x 40 stored, 40 x 64 displayed)
 * through the image route, next to what the store says: the annotation canvas sizes its <img> by
 * the stored size and places keypoints in it, so the browser's natural size and pixels must be in
 * the dataset's frame. Folder dataset: the original as is, Chromium turns it. Benchmark: the
 * untagged copy in the stored frame. Thumbnails: in the frame either way. (No renderer build
 * needed: a fixture page on the real server, images drawn onto a canvas.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../src/main/contract/index.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { genSpair } from '../helpers/dataset-gen.js';
import { CHROMIUM, launchChromium, openPage } from '../helpers/workstation.js';

/** A bright block in the stored top-left corner (x < w/4, y < h/3) on a dark grey ground. */
function taggedJpeg(w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3, 60);
  for (let y = 0; y < h / 3; y++) for (let x = 0; x < w / 4; x++) px.set([250, 240, 20], 3 * (y * w + x));
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

interface Seen {
  width: number;
  height: number;
  /** Whether the pixel near each corner (top-left, top-right, bottom-left, bottom-right) is bright. */
  bright: [boolean, boolean, boolean, boolean];
}

/** The few DOM pieces the page script uses (the Node-side tsconfig has no DOM library). */
interface PageDom {
  Image: new () => { src: string; decode(): Promise<void>; naturalWidth: number; naturalHeight: number };
  document: {
    createElement(tag: 'canvas'): {
      width: number;
      height: number;
      getContext(kind: '2d'): { drawImage(img: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
    };
  };
}

/** Loads the URL into an <img> and a canvas (drawImage at natural size), as the UI would. */
function look(page: Page, url: string): Promise<Seen> {
  return page.evaluate(async (src) => {
    const dom = globalThis as unknown as PageDom;
    const img = new dom.Image();
    img.src = src;
    await img.decode();
    const c = dom.document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    const at = (x: number, y: number) => {
      const [r, gr, b] = g.getImageData(x, y, 1, 1).data;
      return r! > 180 && gr! > 180 && b! < 100;
    };
    const [w, h] = [c.width, c.height];
    return { width: w, height: h, bright: [at(2, 2), at(w - 3, 2), at(2, h - 3), at(w - 3, h - 3)] as [boolean, boolean, boolean, boolean] };
  }, url);
}

let tmp: string;
let server: RunningServer;
let client: InMemoryClient;
let browser: Browser;
let page: Page;
const ids = { folder: 0, spair: 0 };
let spairSize: { w: number; h: number };

async function importJob(args: Parameters<InMemoryClient['invoke']>[1]): Promise<JobInfo> {
  const e = await client.invoke('datasets:import', args as never);
  if ('error' in e) throw new Error(e.error.message);
  const { jobId } = e.result as { jobId: string };
  return new Promise((resolve) => {
    const check = () => {
      const j = server.api.context.jobs.get(jobId);
      if (j && j.state !== 'running') resolve(j);
      else setTimeout(check, 20);
    };
    check();
  });
}

async function firstImage(datasetId: number, rel: string): Promise<number> {
  const e = await client.invoke('images:list', { datasetId });
  if ('error' in e) throw new Error(e.error.message);
  return e.result.items.find((i) => i.path === rel)!.id;
}

const url = (id: number, size?: number) => `${server.origin}/images/${id}?${size ? `size=${size}&` : ''}token=${server.token}`;

describe.skipIf(!CHROMIUM)('EXIF-tagged images in Chromium', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-exif-e2e-'));
    const staticDir = path.join(tmp, 'static');
    fs.mkdirSync(staticDir);
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>fixture</title>');
    server = await startServer({ port: 0, staticDir, db: path.join(tmp, 'w.db') });
    client = createInMemoryClient(server.api);

    const folder = path.join(tmp, 'phone');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'portrait.jpg'), await taggedJpeg(64, 40));
    const f = await importJob({ format: 'folder', root: folder });
    expect(f.state).toBe('completed');
    ids.folder = await firstImage((f.result as { datasetId: number }).datasetId, 'portrait.jpg');

    const spair = path.join(tmp, 'spair');
    const g = await genSpair(spair, { categories: ['cat'], imagesPerCategory: 2, pairs: { trn: 0, val: 0, test: 1 }, size: [48, 96] });
    const rel = g.pairs[0]!.src;
    const { width: w, height: h } = g.images.get(rel)!;
    spairSize = { w, h };
    fs.writeFileSync(path.join(spair, ...rel.split('/')), await taggedJpeg(w, h));
    const s = await importJob({ format: 'spair', root: spair });
    expect(s.state, JSON.stringify(s.error)).toBe('completed');
    ids.spair = await firstImage((s.result as { datasetId: number }).datasetId, rel);

    browser = await launchChromium();
    ({ page } = await openPage(browser, server.url));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    client?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a folder photo shows turned, in its stored 40 x 64 frame (block top-right), original and thumbnail', async () => {
    const stored = (await client.invoke('images:get', { id: ids.folder })) as { result: { width: number; height: number } };
    expect([stored.result.width, stored.result.height]).toEqual([40, 64]);
    for (const u of [url(ids.folder), url(ids.folder, 32)]) {
      const seen = await look(page, u);
      expect(seen.width / seen.height).toBeCloseTo(40 / 64, 1);
      if (u === url(ids.folder)) expect([seen.width, seen.height]).toEqual([40, 64]);
      expect(seen.bright).toEqual([false, true, false, false]);
    }
  });

  it('a benchmark image shows as stored (block top-left), original and thumbnail', async () => {
    const { w, h } = spairSize;
    const stored = (await client.invoke('images:get', { id: ids.spair })) as { result: { width: number; height: number } };
    expect([stored.result.width, stored.result.height]).toEqual([w, h]);
    for (const u of [url(ids.spair), url(ids.spair, 32)]) {
      const seen = await look(page, u);
      expect(seen.width / seen.height).toBeCloseTo(w / h, 1);
      if (u === url(ids.spair)) expect([seen.width, seen.height]).toEqual([w, h]);
      expect(seen.bright).toEqual([true, false, false, false]);
    }
  });
});

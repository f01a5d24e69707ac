/**
 * Helpers for the workstation's browser tests: Chromium through playwright-core, pages that record
 * console errors, images worth looking at in screenshots, a large dataset written straight into
 * the store, and screen positions of image coordinates on the annotation canvas.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/datasets.js';
import { ImagesRepo } from '../../src/main/store/repositories/images.js';
import { findChromium, installHint } from '../../scripts/chromium.mjs';
import { repoPath } from './paths.js';

/** The browser `npm test` found or installed (scripts/chromium.mjs), or one on this machine. */
export const CHROMIUM = findChromium();
export const SCREENS = repoPath('test-results/screens');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error(`no Chrome or Chromium on this machine: run \`${installHint()}\` (or set SD4MATCH_CHROMIUM), or use \`npm test\`, which installs it`);
  fs.mkdirSync(SCREENS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface OpenedPage {
  page: Page;
  /** Console errors, page errors (CSP violations show up as console errors). */
  problems: string[];
}

/** A page in a fresh context that records what went wrong in it. */
export async function openPage(browser: Browser, url: string, options: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ colorScheme: options.colorScheme ?? 'light', viewport: { width: options.width ?? 1280, height: options.height ?? 800 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(url);
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`) });
}

/** A photo-like test image: a gradient sky, ground and a simple animal-ish figure (seeded layout). */
export async function writeScene(file: string, width: number, height: number, seed: number): Promise<void> {
  const hue = (seed * 67) % 360;
  const cx = width * (0.4 + 0.1 * (seed % 3));
  const cy = height * (0.55 + 0.03 * (seed % 2));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},55%,78%)"/><stop offset="1" stop-color="hsl(${(hue + 40) % 360},45%,90%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>
    <rect y="${height * 0.72}" width="100%" height="${height * 0.28}" fill="hsl(${(hue + 120) % 360},30%,55%)"/>
    <ellipse cx="${cx}" cy="${cy}" rx="${width * 0.2}" ry="${height * 0.14}" fill="hsl(${(hue + 200) % 360},35%,35%)"/>
    <circle cx="${cx + width * 0.2}" cy="${cy - height * 0.15}" r="${height * 0.08}" fill="hsl(${(hue + 200) % 360},35%,30%)"/>
    <circle cx="${cx + width * 0.22}" cy="${cy - height * 0.17}" r="${height * 0.015}" fill="#fff"/>
    <path d="M${cx - width * 0.2} ${cy} l${-width * 0.12} ${-height * 0.1}" stroke="hsl(${(hue + 200) % 360},35%,30%)" stroke-width="${height * 0.03}" stroke-linecap="round"/>
    <path d="M${cx - width * 0.08} ${cy + height * 0.12} l0 ${height * 0.12} M${cx + width * 0.08} ${cy + height * 0.12} l0 ${height * 0.12}" stroke="hsl(${(hue + 200) % 360},35%,25%)" stroke-width="${height * 0.025}"/>
  </svg>`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(svg)).jpeg({ quality: 86 }).toFile(file);
}

/**
 * A folder dataset of `n` images written straight into the store (copies of one small JPEG, so
 * they share a thumbnail): what the grid's virtualisation is measured on without importing 10,000
 * files through the importer.
 */
export async function seedLargeFolderDataset(dbFile: string, root: string, n: number, name: string): Promise<number> {
  fs.mkdirSync(root, { recursive: true });
  const bytes = await sharp({ create: { width: 48, height: 36, channels: 3, background: { r: 90, g: 140, b: 200 } } })
    .jpeg({ quality: 70 })
    .toBuffer();
  const sha = createHash('sha256').update(bytes).digest('hex');
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, `img_${String(i).padStart(5, '0')}.jpg`), bytes);
  const store = Store.open(dbFile);
  try {
    return store.writeSync((db) => {
      const datasets = new DatasetsRepo(db);
      const d = datasets.create({ name, format: 'folder', root: fs.realpathSync(root) });
      const cat = datasets.upsertCategory(d.id, { name, ordinal: 0, keypoints: [], skeleton: [] });
      const images = new ImagesRepo(db);
      for (let i = 0; i < n; i++) {
        images.upsert(d.id, { path: `img_${String(i).padStart(5, '0')}.jpg`, categoryId: cat, width: 48, height: 36, format: 'jpeg', bytes: bytes.length, sha256: sha });
      }
      return d.id;
    });
  } finally {
    store.close();
  }
}

/** Where image pixel (x, y) is on the page, from the canvas's transform (data-scale/-tx/-ty). */
export async function canvasPoint(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const canvas = page.getByTestId('annotation-canvas');
  const box = await canvas.boundingBox();
  if (!box) throw new Error('the annotation canvas is not visible');
  const [scale, tx, ty] = await Promise.all(['data-scale', 'data-tx', 'data-ty'].map(async (a) => Number(await canvas.getAttribute(a))));
  return { x: box.x + tx! + scale! * x, y: box.y + ty! + scale! * y };
}

/** The keypoint markers on the canvas: kp -> image x, y, visibility. */
export async function markers(page: Page): Promise<Map<number, { x: number; y: number; visibility: number }>> {
  const list = await page
    .getByTestId('kp-marker')
    .evaluateAll((els) =>
      els.map((el) => ({ kp: Number(el.getAttribute('data-kp')), x: Number(el.getAttribute('data-x')), y: Number(el.getAttribute('data-y')), visibility: Number(el.getAttribute('data-visibility')) })),
    );
  return new Map(list.map((m) => [m.kp, { x: m.x, y: m.y, visibility: m.visibility }]));
}

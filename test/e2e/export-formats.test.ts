/**
 * The Export dialog in Chromium against the real server (browser mode): every export format from
 * its select, with the output path following the format until the user edits it; a folder holding
 * an earlier export asks before it is replaced; and the YOLO export imports back from the Import
 * dialog. Screenshots of the dialog for the folder formats.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReportInfo } from '../../src/main/contract/index.js';
import { EXPORT_FORMATS } from '../../src/main/contract/datasets.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { requireBuilt } from '../helpers/build-output.js';
import { writeImage } from '../helpers/dataset-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

/** The built renderer served (another build's output may be named, e.g. while out/ is being rebuilt). */
const RENDERER = process.env.SD4MATCH_E2E_RENDERER ?? 'out/renderer';

let tmp: string;
let server: RunningServer;
let client: InMemoryClient;
let browser: Browser;
let page: Page;
let problems: string[];
let dataset: { id: number; root: string };
const call = apiCalls(
  () => client,
  () => server.api,
);

/** A COCO dataset 'Garden birds' under tmp/garden: 3 images, one category with a skeleton and symmetric pairs. */
async function gardenBirds(): Promise<string> {
  const root = path.join(tmp, 'garden');
  const imgs = [
    { rel: 'a.jpg', width: 64, height: 48 },
    { rel: 'b.jpg', width: 80, height: 60 },
    { rel: 'c.jpg', width: 40, height: 40 },
  ];
  for (const [i, m] of imgs.entries()) await writeImage(root, { ...m, format: 'jpeg' }, i);
  const doc = {
    images: imgs.map((m, i) => ({ id: i + 1, file_name: m.rel, width: m.width, height: m.height })),
    categories: [
      {
        id: 1,
        name: 'bird',
        supercategory: '',
        keypoints: ['beak', 'left_wing', 'right_wing'],
        skeleton: [
          [1, 2],
          [1, 3],
        ],
        flip_pairs: [[2, 3]],
      },
    ],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, keypoints: [10, 10, 2, 20, 20, 1, 0, 0, 0], bbox: [5, 5, 30, 30], area: 900, iscrowd: 0 },
      { id: 2, image_id: 2, category_id: 1, keypoints: [40, 30, 2, 50, 35, 2, 30, 35, 2], bbox: [20, 20, 40, 30], area: 1200, iscrowd: 0 },
    ],
  };
  fs.writeFileSync(path.join(root, 'annotations.json'), JSON.stringify(doc));
  return root;
}

beforeAll(async () => {
  requireBuilt(path.join(RENDERER, 'index.html'));
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-export-e2e-')));
  const root = await gardenBirds();
  server = await startServer({ port: 0, db: path.join(tmp, 'w.db'), staticDir: RENDERER });
  client = createInMemoryClient(server.api);
  const { jobId } = await call.ok('datasets:import', { format: 'coco', root, name: 'Garden birds' });
  const job = await call.finished(jobId);
  if (job.state !== 'completed') throw new Error(`import failed: ${job.error?.message}`);
  dataset = { id: (job.result as ImportReportInfo).datasetId, root };
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser, `${server.url}#/datasets?dataset=${dataset.id}`, { width: 1440, height: 900 }));
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
}, 90_000);

afterAll(async () => {
  client?.close();
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const byTestId = (id: string) => page.getByTestId(id);

async function openExport(): Promise<void> {
  await byTestId('export-coco').click();
  await byTestId('export-dialog').waitFor();
}

/** What each format's export must hold at its top. */
const MARK: Record<string, string> = { yolo: 'data.yaml', dlc: 'config.yaml', labelstudio: 'tasks.json', cvat: 'annotations.xml' };

describe('the Export dialog', () => {
  it('exports in every format from its select, the path following the format', async () => {
    for (const format of EXPORT_FORMATS) {
      await openExport();
      await byTestId('export-format').selectOption(format);
      const out = await byTestId('export-file').inputValue();
      if (format === 'coco') expect(out).toBe(path.join(dataset.root, 'Garden-birds-coco.json'));
      // folders go beside the dataset's folder: inside it, a re-import would take the copies for new images
      else expect(out).toBe(path.join(tmp, `Garden-birds-${format}`));
      expect(await byTestId('export-about').textContent()).not.toBe('');
      if (format === 'yolo' || format === 'dlc') await screenshot(page, `export-dialog-${format}`);
      await byTestId('export-submit').click();
      await byTestId('export-dialog').waitFor({ state: 'detached', timeout: 30_000 });
      if (format === 'coco') {
        const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { categories: { keypoints: string[]; flip_pairs: number[][] }[] };
        expect(doc.categories[0]).toMatchObject({ keypoints: ['beak', 'left_wing', 'right_wing'], flip_pairs: [[2, 3]] });
      } else {
        expect(fs.existsSync(path.join(out, MARK[format] ?? '')), `${format}: ${out}`).toBe(true);
      }
    }
    expect(fs.readFileSync(path.join(tmp, 'Garden-birds-yolo', 'data.yaml'), 'utf8')).toContain('flip_idx: [0, 2, 1]');
    expect(fs.readFileSync(path.join(tmp, 'Garden-birds-dlc', 'labeled-data', 'bird', 'CollectedData_sd4match.csv'), 'utf8')).toContain('labeled-data,bird,a.jpg,10,10,20,20,,');
  });

  it('asks before replacing an earlier export, and refuses a folder that holds something else', async () => {
    await openExport();
    await byTestId('export-format').selectOption('yolo');
    await byTestId('export-submit').click();
    await expect.poll(() => byTestId('export-file-error').textContent()).toMatch(/holds an earlier yolo export; tick “Replace an earlier export of this format in the folder” to replace it/);
    await screenshot(page, 'export-dialog-earlier-export');
    await byTestId('export-file').fill(dataset.root);
    await byTestId('export-overwrite').check();
    await byTestId('export-submit').click();
    await expect.poll(() => byTestId('export-file-error').textContent()).toMatch(/is a folder that is not empty \(and holds no yolo export to replace\)/);
    await byTestId('export-file').fill(path.join(tmp, 'Garden-birds-yolo'));
    await byTestId('export-submit').click();
    await byTestId('export-dialog').waitFor({ state: 'detached', timeout: 30_000 });
    expect(fs.readdirSync(tmp).filter((f) => /\.(tmp|old)$/.test(f))).toEqual([]);
  });

  it('imports the YOLO export back from the Import dialog', async () => {
    await byTestId('import-dataset').click();
    await byTestId('import-dialog').waitFor();
    await byTestId('import-format').selectOption('yolo');
    expect(await byTestId('import-annotations').getAttribute('placeholder')).toMatch(/data\.yaml$/);
    await byTestId('import-root').fill(path.join(tmp, 'Garden-birds-yolo'));
    await byTestId('import-name').fill('Garden birds (YOLO)');
    await screenshot(page, 'import-dialog-yolo');
    await byTestId('import-submit').click();
    await byTestId('import-dialog').getByTestId('import-report').waitFor({ timeout: 60_000 });
    expect(await byTestId('import-dialog').getByTestId('report-images').textContent()).toBe('3');
    await screenshot(page, 'import-dialog-yolo-report');
    await byTestId('import-dialog').getByRole('button', { name: 'Close', exact: true }).last().click();
    await byTestId('import-dialog').waitFor({ state: 'detached' });
  });

  it('imports the DeepLabCut export back from the Import dialog', async () => {
    await byTestId('import-dataset').click();
    await byTestId('import-dialog').waitFor();
    await byTestId('import-format').selectOption('dlc');
    expect(await page.locator('#import-root-hint').textContent()).toMatch(/config\.yaml and labeled-data/);
    await byTestId('import-root').fill(path.join(tmp, 'Garden-birds-dlc'));
    await byTestId('import-submit').click();
    await byTestId('import-dialog').getByTestId('import-report').waitFor({ timeout: 60_000 });
    expect(await byTestId('import-dialog').getByTestId('report-images').textContent()).toBe('3');
    await screenshot(page, 'import-dialog-dlc-report');
    expect(problems).toEqual([]);
  });
});

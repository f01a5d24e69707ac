/**
 * The import dialog in Chromium against the real server (browser mode): the folder's placeholder
 * and hint follow the chosen format, and a failed COCO import explains itself in the dialog's own
 * words: the skip-invalid checkbox by its label (not the CLI's `--skip-invalid`), and the folder to
 * choose when the images sit in a sub-folder next to the JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_DIALOG_LABELS } from '../../src/main/contract/import-dialog.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { requireBuilt } from '../helpers/build-output.js';
import { genCoco } from '../helpers/dataset-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

let tmp: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let template: string;
let counter = 0;

beforeAll(async () => {
  requireBuilt('out/renderer/index.html');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-import-dialog-'));
  template = path.join(tmp, 'template');
  await genCoco(template);
  server = await startServer({ port: 0, db: path.join(tmp, 'w.db') });
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser, `${server.url}#/datasets`, { width: 1440, height: 900 }));
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A COCO copy whose annotations.json `edit` changes. */
function cocoCopy(edit: (j: Record<string, unknown[]>) => void): string {
  const root = path.join(tmp, `coco-${++counter}`);
  fs.cpSync(template, root, { recursive: true });
  const file = path.join(root, 'annotations.json');
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown[]>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
  return root;
}

const byTestId = (id: string) => page.getByTestId(id);

async function openDialog(): Promise<void> {
  if (await byTestId('import-dialog').isVisible()) return;
  await byTestId('import-dataset').click();
  await byTestId('import-dialog').waitFor();
}

/** Imports `root` as COCO from the dialog; returns the error the dialog shows. */
async function importFailing(root: string): Promise<string> {
  await openDialog();
  await byTestId('import-format').selectOption('coco');
  await byTestId('import-root').fill(root);
  await byTestId('import-submit').click();
  await byTestId('import-error').waitFor({ timeout: 60_000 });
  return (await byTestId('import-error').textContent()) ?? '';
}

describe('the import dialog', () => {
  it('shows a placeholder and a hint for the chosen format', async () => {
    await openDialog();
    const root = byTestId('import-root');
    const hint = page.locator('#import-root-hint');
    expect(await byTestId('import-format').inputValue()).toBe('folder');
    const seen = new Map<string, { placeholder: string; hint: string }>();
    for (const format of ['folder', 'spair', 'pfpascal', 'pfwillow', 'coco']) {
      await byTestId('import-format').selectOption(format);
      seen.set(format, { placeholder: (await root.getAttribute('placeholder')) ?? '', hint: (await hint.textContent()) ?? '' });
    }
    expect(seen.get('folder')!.placeholder).not.toMatch(/SPair|PF-|coco/i);
    expect(seen.get('spair')!.placeholder).toMatch(/SPair-71k/);
    expect(seen.get('pfpascal')!.placeholder).toMatch(/PF-Pascal/i);
    expect(seen.get('pfwillow')!.placeholder).toMatch(/PF-Willow/i);
    expect(seen.get('coco')!.placeholder).toMatch(/coco/i);
    expect(new Set([...seen.values()].map((s) => s.placeholder)).size).toBe(5);
    expect(new Set([...seen.values()].map((s) => s.hint)).size).toBe(5);
    expect(seen.get('coco')!.hint).toMatch(/file_name/);
    // the annotation file's input has a placeholder of its own
    expect(await byTestId('import-annotations').getAttribute('placeholder')).toMatch(/\.json$/);
    expect(await page.locator('label.check').textContent()).toContain(IMPORT_DIALOG_LABELS.skipInvalid);
    await byTestId('import-format').selectOption('folder');
    await screenshot(page, 'import-dialog-folder');
    await byTestId('import-format').selectOption('coco');
    await screenshot(page, 'import-dialog-coco');
  });

  it('names its checkbox, not the CLI flag, when entries are invalid', async () => {
    const root = cocoCopy((j) => {
      for (const a of j.annotations!.slice(0, 2) as { keypoints: number[] }[]) a.keypoints[2] = 5;
    });
    const error = await importFailing(root);
    expect(error).toContain(`(and 1 more problem; tick “${IMPORT_DIALOG_LABELS.skipInvalid}” to import the rest)`);
    expect(error).not.toContain('--');
    await screenshot(page, 'import-dialog-skip-hint');
  });

  it('says which folder to choose when the images sit in a sub-folder next to the JSON', async () => {
    const root = cocoCopy((j) => {
      for (const img of j.images as { file_name: string }[]) img.file_name = img.file_name.replace(/^images\//, '');
    });
    const real = fs.realpathSync(root);
    const error = await importFailing(root);
    expect(error).toMatch(/image file is missing/);
    expect(error).toContain(
      `The images seem to be in ${path.join(real, 'images')}${path.sep}: choose that folder as the “${IMPORT_DIALOG_LABELS.root}” and ${path.join(real, 'annotations.json')} as the “${IMPORT_DIALOG_LABELS.annotations}”.`,
    );
    expect(error).not.toContain('--');
    await screenshot(page, 'import-dialog-subfolder-hint');
    // following the hint imports the dataset
    await byTestId('import-root').fill(path.join(real, 'images'));
    await byTestId('import-annotations').fill(path.join(real, 'annotations.json'));
    await byTestId('import-submit').click();
    await byTestId('import-dialog').getByTestId('import-report').waitFor({ timeout: 60_000 });
    expect(await byTestId('import-dialog').getByTestId('report-images').textContent()).toBe('4');
    expect(problems).toEqual([]);
  });
});

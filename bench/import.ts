/**
 * Dataset import benchmark: generates an SPair-71k-format dataset (default 10,000 pairs over 300
 * images, reused across pairs as SPair has ~1,800 images for ~70k pairs) in a temporary folder,
 * imports it into a fresh database, then re-imports it (the idempotent update path). Prints
 * pairs per second per stage and overall, and the database size per pair.
 *
 *   npm run bench -- import [--pairs N] [--images N] [--size MIN,MAX] [--keep]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importDataset, type ImportReport } from '../src/main/services/datasets/import.js';
import { silentTask } from '../src/main/engine/jobs/progress.js';
import { Store } from '../src/main/store/db.js';
import { genLargeSpair } from '../test/helpers/dataset-gen.js';
import { flag, mib, PeakRss, printTable } from './table.js';

export const description = 'dataset import: pairs/s per stage and overall (generated SPair-format data), database size per pair';

function rows(label: string, r: ImportReport): (string | number)[][] {
  const s = r.seconds;
  const rate = (sec: number) => (sec > 0 ? Math.round(r.pairs / sec) : '-');
  return [
    [label, 'scanning', s.scanning, rate(s.scanning)],
    [label, 'reading annotations', s.reading, rate(s.reading)],
    [label, `checking images (${r.images})`, s.checking, rate(s.checking)],
    [label, 'writing (one transaction)', s.writing, rate(s.writing)],
    [label, 'total', s.total, rate(s.total)],
  ];
}

export async function run(args: string[]): Promise<void> {
  const pairs = Number(flag(args, '--pairs') ?? 10_000);
  const images = Number(flag(args, '--images') ?? 300);
  const [lo, hi] = (flag(args, '--size') ?? '320,500').split(',').map(Number) as [number, number];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-import-'));
  try {
    const root = path.join(tmp, 'SPair-71k');
    let t0 = performance.now();
    const g = await genLargeSpair(root, { pairs, images, size: [lo, hi] });
    const genSeconds = (performance.now() - t0) / 1000;
    process.stdout.write(`generated ${g.pairs} pairs over ${g.images} images (${lo}-${hi} px JPEG) in ${genSeconds.toFixed(1)}s under ${tmp}\n`);

    const store = Store.open(path.join(tmp, 'bench.db'));
    const rss = new PeakRss();
    t0 = performance.now();
    const first = await importDataset(store, { format: 'spair', root }, silentTask());
    const second = await importDataset(store, { format: 'spair', root }, silentTask());
    const peak = rss.stop();
    store.checkpoint();
    const size = fs.statSync(store.file).size;
    const points = first.pairPoints;
    store.close();

    printTable(
      `import of ${pairs.toLocaleString('en-US')} SPair-format pairs (${os.cpus().length} cores)`,
      ['run', 'stage', 'seconds', 'pairs/s'],
      [...rows('first import', first), ...rows('re-import (update)', second)],
    );
    printTable(
      'database',
      ['metric', 'value'],
      [
        ['file size (after checkpoint)', `${(size / 1024 / 1024).toFixed(2)} MiB`],
        ['bytes per pair', Math.round(size / pairs)],
        ['correspondences per pair', (points / pairs).toFixed(1)],
        ['images / annotations', `${first.images} / ${first.annotations}`],
        ['peak RSS', mib(peak)],
      ],
    );
  } finally {
    if (!args.includes('--keep')) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

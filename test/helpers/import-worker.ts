/**
 * One dataset import in a process of its own, for the import race test (run with `node --import tsx`):
 *
 *   import-worker.ts DB FORMAT ROOT GATE_DIR
 *
 * Calls the import use case the servers call. Once it has read the dataset (when it starts checking
 * images) it writes GATE_DIR/<pid>.ready and waits until GATE_DIR/go exists (at most a minute), so
 * that a test can hold two imports at the same point before either writes. Prints one JSON line:
 * `{ report }` or `{ error: { code, message } }`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CancellationToken, type TaskContext } from '../../src/main/engine/jobs/progress.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import type { DatasetFormat } from '../../src/main/store/repositories/datasets.js';

const [file, format, root, gate] = process.argv.slice(2) as [string, DatasetFormat, string, string];
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let held = false;
const task: TaskContext = {
  token: new CancellationToken(),
  progress(p) {
    if (held || p.stage !== 'checking images') return;
    held = true;
    fs.writeFileSync(path.join(gate, `${process.pid}.ready`), '');
    // progress() is synchronous: the import stands still here until the test lets it go
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(path.join(gate, 'go')) && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 10);
  },
};
const store = Store.open(file);
try {
  const report = await importDataset(store, { format, root }, task);
  process.stdout.write(`${JSON.stringify({ report: { datasetId: report.datasetId, name: report.name, created: report.created, images: report.images } })}\n`);
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stdout.write(`${JSON.stringify({ error: { code: e.code ?? 'INTERNAL', message: e.message ?? String(err) } })}\n`);
} finally {
  store.close();
}

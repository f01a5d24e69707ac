/**
 * A separate process working on a store, for the concurrency test (run with `node --import tsx`):
 *
 *   store-worker.ts train DB STOPFILE   a training run writing metrics through Store.write()
 *   store-worker.ts read DB STOPFILE    a UI reading datasets and pairs through Store.read()
 *
 * Each runs until STOPFILE exists (at most a minute).
 *
 * Prints one JSON line: operations done, errors (with their codes), what was observed.
 */
import fs from 'node:fs';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo, PairsRepo, RunsRepo, SPLITS } from '../../src/main/store/repositories/index.js';

const [mode, file, stopFile] = process.argv.slice(2);
const deadline = Date.now() + 60_000;
const running = () => Date.now() < deadline && !fs.existsSync(stopFile!);
const store = Store.open(file!);
const errors: string[] = [];
let ops = 0;
const observed = new Set<string>();

if (mode === 'train') {
  const run = await store.write((db) => new RunsRepo(db).create({ kind: 'train', config: { lr: 0.01 } }));
  await store.write((db) => new RunsRepo(db).start(run.id, { provider: 'cpu' }));
  let step = 0;
  while (running()) {
    step++;
    try {
      await store.write((db) => {
        const runs = new RunsRepo(db);
        runs.recordMetrics(run.id, step, { loss: 1 / step, lr: 0.01 });
        runs.progress(run.id, step);
      });
      ops++;
    } catch (e) {
      errors.push(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const stored = await store.read((db) => new RunsRepo(db).metricSeries(run.id, 'loss').length);
  process.stdout.write(`${JSON.stringify({ ops, errors, stored, runId: run.id })}\n`);
} else {
  while (running()) {
    try {
      await store.read((db) => {
        for (const d of new DatasetsRepo(db).list()) {
          const pairs = new PairsRepo(db);
          const n = SPLITS.reduce((k, s) => k + pairs.list({ datasetId: d.id, split: s, limit: 50 }).length, 0);
          observed.add(`${d.name}:${d.pairs}:${n > 0}`);
        }
      });
      ops++;
    } catch (e) {
      errors.push(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  process.stdout.write(`${JSON.stringify({ ops, errors, observed: [...observed] })}\n`);
}
store.close();

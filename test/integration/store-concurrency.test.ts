/**
 * Concurrency (WAL): the UI reading while an import and a training run write. Readers never see
 * SQLITE_BUSY or a half-written import, and the training run's writes all land (they wait for
 * the import's transaction instead of failing) — across processes and within one process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { silentTask } from '../../src/main/engine/jobs/progress.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo, PairsRepo, RunsRepo } from '../../src/main/store/repositories/index.js';
import { REPO } from '../helpers/cli.js';
import { genLargeSpair, genSpair } from '../helpers/dataset-gen.js';

const PAIRS = 12_000;
let tmp: string;
let bigRoot: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-conc-'));
  bigRoot = path.join(tmp, 'SPair-big');
  await genLargeSpair(bigRoot, { pairs: PAIRS, images: 40, size: [48, 80] });
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function spawnTs(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, env: { ...process.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

describe('the store under concurrent work', () => {
  it('a reader process and a training process keep working while another process imports', async () => {
    const db = path.join(tmp, 'shared.db');
    const small = await genSpair(path.join(tmp, 'SPair-small'));
    const store = Store.open(db);
    await importDataset(store, { format: 'spair', root: small.root });
    store.close();
    const stop = path.join(tmp, 'stop');
    const worker = path.join(REPO, 'test/helpers/store-worker.ts');
    const reader = spawnTs([worker, 'read', db, stop]);
    const trainer = spawnTs([worker, 'train', db, stop]);
    const importer = spawnTs([path.join(REPO, 'src/main/cli.ts'), '--db', db, 'import', '--format', 'spair', '--root', bigRoot, '--name', 'big', '--json', '--quiet']);
    const imp = await importer.done;
    await new Promise((r) => setTimeout(r, 300)); // let the workers see the committed import
    fs.writeFileSync(stop, '');
    const [r, t] = await Promise.all([reader.done, trainer.done]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(t.code, t.stderr).toBe(0);
    const read = JSON.parse(r.stdout) as { ops: number; errors: string[]; observed: string[] };
    const train = JSON.parse(t.stdout) as { ops: number; errors: string[]; stored: number };
    expect(read.errors).toEqual([]);
    expect(train.errors).toEqual([]);
    expect(read.ops).toBeGreaterThan(50);
    expect(train.ops).toBeGreaterThan(50);
    expect(train.stored).toBe(train.ops);
    // The readers saw the big dataset either not at all or complete, never in between.
    const big = read.observed.filter((o) => o.startsWith('big:'));
    expect(big).toEqual([`big:${PAIRS}:true`]);
  }, 180_000);

  it('within one process, reads and training writes go on while an import is mid-transaction', async () => {
    const store = Store.open(path.join(tmp, 'one-process.db'));
    try {
      const run = await store.write((db) => new RunsRepo(db).create({ kind: 'train', config: {} }));
      let importing = true;
      let sawWriting = false;
      const task = {
        ...silentTask(),
        progress(p: { stage: string; done: number }) {
          if (p.stage === 'writing' && p.done > 0) sawWriting = true;
        },
      };
      const imp = importDataset(store, { format: 'spair', root: bigRoot, name: 'big' }, task).finally(() => (importing = false));
      const seenCounts = new Set<number>();
      let reads = 0;
      let writes = 0;
      let writesDuringImport = 0;
      const readLoop = (async () => {
        while (importing) {
          const n = await store.read((db) => {
            const d = new DatasetsRepo(db).findByName('big');
            return d ? new PairsRepo(db).count(d.id) : 0;
          });
          seenCounts.add(n);
          reads++;
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const writeLoop = (async () => {
        let step = 0;
        while (importing) {
          const during = sawWriting;
          await store.write((db) => new RunsRepo(db).recordMetrics(run.id, ++step, { loss: step }));
          writes++;
          if (during) writesDuringImport++;
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const report = await imp;
      await Promise.all([readLoop, writeLoop]);
      expect(report.pairs).toBe(PAIRS);
      expect(sawWriting).toBe(true);
      expect(reads).toBeGreaterThan(20);
      expect(writesDuringImport).toBeGreaterThan(0);
      expect([...seenCounts].every((n) => n === 0 || n === PAIRS)).toBe(true);
      expect(await store.read((db) => new RunsRepo(db).metricSeries(run.id, 'loss').length)).toBe(writes);
    } finally {
      store.close();
    }
  }, 120_000);
});

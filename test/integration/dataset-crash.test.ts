/**
 * Crash safety: a child process importing a large dataset through the real CLI is killed with
 * SIGKILL while it writes (detected from its progress output); the database passes
 * `PRAGMA integrity_check`, holds nothing of that import and everything that was there before,
 * and still works.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo, PairsRepo } from '../../src/main/store/repositories/index.js';
import { REPO } from '../helpers/cli.js';
import { genLargeSpair, genSpair } from '../helpers/dataset-gen.js';
import { integrityCheck, snapshotDb } from '../helpers/store-snapshot.js';

const PAIRS = 20_000;

let tmp: string;
let bigRoot: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-crash-'));
  bigRoot = path.join(tmp, 'SPair-big');
  await genLargeSpair(bigRoot, { pairs: PAIRS, images: 60, size: [48, 96] });
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Starts the CLI import and SIGKILLs it `delayMs` after it reports the writing stage. */
function importAndKill(db: string, root: string, delayMs: number): Promise<{ killedWhileWriting: boolean; stdout: string; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), '--db', db, 'import', '--format', 'spair', '--root', root, '--name', 'big', '--json'], {
      cwd: REPO,
      env: { ...process.env },
    });
    let stdout = '';
    let stderr = '';
    let killedWhileWriting = false;
    let armed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!armed && /^writing \d+\/\d+/m.test(stderr)) {
        armed = true;
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) {
            killedWhileWriting = !stdout.includes('"datasetId"');
            child.kill('SIGKILL');
          }
        }, delayMs);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ killedWhileWriting, stdout, stderr, code, signal });
    });
  });
}

describe('an import killed mid-write', () => {
  it('leaves a sound database holding none of that import (or all of it), and the rest untouched', async () => {
    const db = path.join(tmp, 'crash.db');
    // What was there before: a small dataset.
    const small = await genSpair(path.join(tmp, 'SPair-small'));
    const store = Store.open(db);
    await importDataset(store, { format: 'spair', root: small.root });
    store.close();
    const before = snapshotDb(db);

    const r = await importAndKill(db, bigRoot, 60);
    expect(r.signal, `the child should have been killed, not exit by itself (stderr: ${r.stderr.slice(-500)})`).toBe('SIGKILL');
    expect(r.stderr).toMatch(/^writing 0\/\d+/m);
    // Writing 20k pairs takes about 0.3 s on an idle machine (longer under load); the kill 60 ms in
    // lands before COMMIT.
    expect(r.killedWhileWriting).toBe(true);

    expect(integrityCheck(db)).toBe('ok');
    const reopened = Store.open(db);
    try {
      // The kill landed before COMMIT: nothing of the import, everything else as it was.
      expect(await reopened.read((d) => new DatasetsRepo(d).findByName('big'))).toBeUndefined();
      expect(snapshotDb(db)).toEqual(before);
      // The database still works: the same import now completes.
      const report = await importDataset(reopened, { format: 'spair', root: bigRoot, name: 'big' });
      expect(report.pairs).toBe(PAIRS);
      expect(await reopened.read((d) => new PairsRepo(d).count(report.datasetId))).toBe(PAIRS);
    } finally {
      reopened.close();
    }
    expect(integrityCheck(db)).toBe('ok');
  }, 180_000);

  it('a re-import killed mid-write keeps the earlier version of the dataset exactly', async () => {
    const db = path.join(tmp, 'crash-update.db');
    const store = Store.open(db);
    await importDataset(store, { format: 'spair', root: bigRoot, name: 'big' });
    store.close();
    // Change the source so a completed re-import would differ: drop every tenth pair.
    const layout = path.join(bigRoot, 'Layout/large/trn.txt');
    const original = fs.readFileSync(layout, 'utf8');
    fs.writeFileSync(
      layout,
      original
        .split('\n')
        .filter((_, i) => i % 10 !== 0)
        .join('\n'),
    );
    const before = snapshotDb(db);
    try {
      const r = await importAndKill(db, bigRoot, 60);
      expect(r.signal).toBe('SIGKILL');
      expect(r.killedWhileWriting).toBe(true);
      expect(integrityCheck(db)).toBe('ok');
      expect(snapshotDb(db)).toEqual(before);
    } finally {
      fs.writeFileSync(layout, original);
    }
  }, 180_000);
});

/**
 * Two processes on one database (two `sd4match serve`s, or a server and the CLI) importing the
 * same dataset at the same time: the second to write must not update the dataset the first just
 * created with its own reading (the user of the second never asked for a merge); it fails with
 * CONFLICT, having written nothing. Both imports are held after reading (test/helpers/import-worker.ts)
 * until both have read, so they truly overlap.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/index.js';
import { REPO } from '../helpers/cli.js';
import { genCoco, genFolder } from '../helpers/dataset-gen.js';

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-race-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Outcome {
  report?: { datasetId: number; name: string; created: boolean; images: number };
  error?: { code: string; message: string };
}

function worker(db: string, format: string, root: string, gate: string): Promise<{ code: number | null; out: Outcome; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/helpers/import-worker.ts'), db, format, root, gate], { cwd: REPO, env: { ...process.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out: (stdout.trim() ? JSON.parse(stdout.trim()) : {}) as Outcome, stderr })));
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs two imports of `root` into `db` at once; returns both outcomes. */
async function race(db: string, format: string, root: string): Promise<Outcome[]> {
  const gate = fs.mkdtempSync(path.join(tmp, 'gate-'));
  const runs = [worker(db, format, root, gate), worker(db, format, root, gate)];
  await until(() => fs.readdirSync(gate).filter((f) => f.endsWith('.ready')).length === 2);
  fs.writeFileSync(path.join(gate, 'go'), '');
  const done = await Promise.all(runs);
  for (const d of done) expect(d.code, d.stderr).toBe(0);
  return done.map((d) => d.out);
}

describe('two processes importing the same dataset at once', () => {
  it.each([
    ['folder', genFolder],
    ['coco', genCoco],
  ] as const)(
    '%s: one creates it, the other fails with CONFLICT and writes nothing',
    async (format, gen) => {
      const root = path.join(tmp, `${format}-data`);
      const generated = await gen(root);
      const db = path.join(tmp, `${format}.db`);
      Store.open(db).close();
      const outcomes = await race(db, format, root);
      const created = outcomes.filter((o) => o.report);
      const refused = outcomes.filter((o) => o.error);
      expect(created, JSON.stringify(outcomes)).toHaveLength(1);
      expect(created[0]!.report).toMatchObject({ created: true, images: generated.images.size });
      expect(refused).toHaveLength(1);
      expect(refused[0]!.error!.code).toBe('CONFLICT');
      expect(refused[0]!.error!.message).toMatch(
        new RegExp(`another import created dataset '${created[0]!.report!.name}' \\(id ${created[0]!.report!.datasetId}\\).*while this one was reading it; nothing was written`),
      );
      const store = Store.open(db);
      try {
        const list = store.readSync((d) => new DatasetsRepo(d).list());
        expect(list).toHaveLength(1);
        expect(list[0]!.images).toBe(generated.images.size);
      } finally {
        store.close();
      }
    },
    120_000,
  );

  it('a re-import of an existing dataset by two processes at once updates it (both were asked to)', async () => {
    const root = path.join(tmp, 'again');
    const generated = await genFolder(root);
    const db = path.join(tmp, 'again.db');
    Store.open(db).close();
    const first = await race(db, 'folder', root);
    expect(first.filter((o) => o.report)).toHaveLength(1);
    const again = await race(db, 'folder', root);
    expect(again.map((o) => o.error ?? null)).toEqual([null, null]);
    expect(again.map((o) => o.report!.created)).toEqual([false, false]);
    expect(again.map((o) => o.report!.images)).toEqual([generated.images.size, generated.images.size]);
  }, 120_000);
});

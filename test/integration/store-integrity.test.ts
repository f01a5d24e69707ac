/**
 * A damaged database is refused, with the way out (issue 22, item 6), and a full disk or a killed
 * writer leaves no trace but a clear error (item 9).
 *
 * The damaged files are made from a real store: a generated SPair dataset imported through the
 * API, annotations saved through it, and a long annotation history (thousands of undo states),
 * checkpointed and closed, which leaves its first backup. Three kinds of damage: garbage over the
 * header, the file cut short, and 64 KiB of garbage over the middle of annotation_history's pages.
 * Each must be refused by Store.open, by the CLI (exit code, one line naming the file and the
 * newest backup) and by `sd4match serve` (exits before it listens).
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { sweepStaleTempFiles, STALE_TEMP_MS } from '../../src/main/engine/cache/temp-files.js';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import { openServices } from '../../src/main/services/app/context.js';
import { AppError, serializeError } from '../../src/main/shared/errors.js';
import { backupIfDue, BACKUP_EVERY_MS, listBackups, makeBackup, restoreBackup } from '../../src/main/store/backup.js';
import { Store } from '../../src/main/store/db.js';
import { checkFile } from '../../src/main/store/integrity.js';
import { AnnotationHistoryRepo } from '../../src/main/store/repositories/annotation-history.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { expectCleanFailure, REPO, runCli } from '../helpers/cli.js';
import { genCoco, genSpair } from '../helpers/dataset-gen.js';
import { snapshotDb } from '../helpers/store-snapshot.js';

let tmp: string;
/** The sound store every damaged copy is made from, and its one backup (made when it closed). */
let good: string;
let goodBackup: string;
let pristine: ReturnType<typeof snapshotDb>;
/** An image with a saved annotation and history: its key and the version its undo needs. */
let annotated: { imageId: number; categoryId: number; version: number };

const HISTORY_ROWS = 12_000;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-integrity-'));
  good = path.join(tmp, 'good', 'workstation.db');
  const spair = path.join(tmp, 'SPair-71k');
  const coco = path.join(tmp, 'coco');
  await genSpair(spair, { pairs: { trn: 6, val: 2, test: 2 } });
  await genCoco(coco, { images: 6 });

  const api = createApi({ db: good });
  const client = createInMemoryClient(api);
  const { ok, finished } = apiCalls(
    () => client,
    () => api,
  );
  expect((await finished((await ok('datasets:import', { format: 'spair', root: spair })).jobId)).state).toBe('completed');
  const job = await finished((await ok('datasets:import', { format: 'coco', root: coco, name: 'people' })).jobId);
  expect(job.state).toBe('completed');
  // the benchmark's keypoints are read-only: the labelling happens on the COCO dataset
  const datasetId = (job.result as { datasetId: number }).datasetId;
  const categoryId = (await ok('datasets:get', { id: datasetId })).categoryList[0]!.id;
  const images = (await ok('images:list', { datasetId, categoryId })).items;
  let s = await ok('annotations:get', { imageId: images[0]!.id, categoryId });
  for (let i = 0; i < 3; i++) {
    s = await ok('annotations:save', { imageId: images[0]!.id, categoryId, keypoints: [{ kp: 0, x: 5 + i, y: 7, visibility: 2 }], baseVersion: s.version, action: `move ${i}` });
  }
  annotated = { imageId: images[0]!.id, categoryId, version: s.version };
  // a long labelling session: thousands of undo states across the category's images
  const kps = Array.from({ length: 5 }, (_, kp) => ({ kp, x: 10.25 + kp, y: 20.5 + kp, visibility: 2 as const }));
  await api.context.services().store.write((db) => {
    const h = new AnnotationHistoryRepo(db);
    for (let i = 0; i < HISTORY_ROWS; i++) h.append({ imageId: images[1 + (i % (images.length - 1))]!.id, categoryId, instance: 0 }, 1000 + i, kps, `move keypoint ${i % 5} of the person on the left`);
  });
  client.close();
  await api.close();

  expect(fs.existsSync(`${good}-wal`) ? fs.statSync(`${good}-wal`).size : 0).toBe(0); // checkpointed
  const backups = listBackups(good);
  expect(backups).toHaveLength(1); // made when the store closed
  goodBackup = backups[0]!.file;
  pristine = snapshotDb(good);
  expect(pristine.annotation_history!.length).toBeGreaterThan(HISTORY_ROWS);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the sound store (with its backups folder) under `name`, damaged by `damage`. */
function damagedCopy(name: string, damage: (file: string) => void): { file: string; backup: string } {
  const file = path.join(tmp, name, 'workstation.db');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(good, file);
  fs.cpSync(`${good}-backups`, `${file}-backups`, { recursive: true });
  damage(file);
  return { file, backup: path.join(`${file}-backups`, path.basename(goodBackup)) };
}

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** The pages of a table's b-tree (SQLite's dbstat), in page order, and the page size. */
function pagesOf(file: string, table: string): { pages: number[]; pageSize: number } {
  const db = new Database(file, { readonly: true });
  try {
    const pages = (db.prepare('SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno').all(table) as { pageno: number }[]).map((r) => r.pageno);
    return { pages, pageSize: db.pragma('page_size', { simple: true }) as number };
  } finally {
    db.close();
  }
}

const DAMAGE: { name: string; damage: (file: string) => void; says: RegExp }[] = [
  {
    name: 'header garbage',
    damage: (file) => overwrite(file, 0, Buffer.from('not a database header, just text that a stray program wrote over it'.padEnd(100, '#'))),
    says: /header is not that of an SQLite database/,
  },
  {
    name: 'truncated',
    damage: (file) => fs.truncateSync(file, Math.floor(fs.statSync(file).size * 0.55) + 123),
    says: /the file is cut short: \d+ bytes of the \d+ its header records/,
  },
  {
    name: '64 KiB over the middle of annotation_history',
    damage: (file) => {
      const { pages, pageSize } = pagesOf(file, 'annotation_history');
      expect(pages.length).toBeGreaterThan(200);
      const mid = pages[Math.floor(pages.length / 2)]!;
      overwrite(file, (mid - 1) * pageSize, crypto.randomBytes(64 * 1024));
    },
    says: /quick_check found damaged pages? [\d, -]+ in table annotation_history/,
  },
];

/** Runs `sd4match serve` on `db` until it exits (it must: the store is refused before it listens). */
function serveUntilExit(db: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), 'serve', '--db', db, '--port', '0', '--no-open'], { cwd: REPO, env: { ...process.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('a damaged database is refused at start-up, naming the file and the newest backup', () => {
  for (const d of DAMAGE) {
    it(`${d.name}: Store.open, the CLI and serve refuse it`, async () => {
      const { file, backup } = damagedCopy(d.name.replace(/\W+/g, '-'), d.damage);
      let refused: unknown;
      try {
        Store.open(file).close();
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(AppError);
      const e = refused as AppError;
      expect(e.code).toBe('STORE_INVALID');
      expect(e.message).toContain(`The database ${file} is damaged`);
      expect(e.message).toMatch(d.says);
      expect(e.message).toContain(`The newest good backup is ${backup} (made `);
      expect(e.message).toContain('db restore');
      // refused before anything was written to it: no WAL switch, no migration, no backup of it
      expect(listBackups(file).map((b) => b.file)).toEqual([backup]);

      const [cli, serve] = await Promise.all([runCli(['--db', file, 'datasets', 'list']), serveUntilExit(file)]);
      expectCleanFailure(cli, /is damaged/);
      expect(cli.stderr).toContain(file);
      expect(cli.stderr).toContain(backup);

      expect(serve.code).not.toBe(0);
      expect(serve.code).not.toBeNull(); // exited by itself, not killed by the timeout
      expect(serve.stdout).not.toMatch(/serving at/);
      expect(serve.stderr).toMatch(/^error: The database .* is damaged/m);
      expect(serve.stderr).toContain(backup);
    });
  }

  it('`db restore` puts the newest good backup back: the data returns, the damaged file is kept', async () => {
    const { file, backup } = damagedCopy('restore', DAMAGE[2]!.damage);
    const r = await runCli(['--db', file, 'db', 'restore']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`restored ${file} from ${backup}`);
    // the damaged file is kept (with its -wal and -shm, if it had them)
    const kept = fs.readdirSync(path.dirname(file)).filter((n) => /^workstation\.db\.damaged-[\dT:.-]+Z$/.test(n));
    expect(kept).toHaveLength(1);
    expect(snapshotDb(file)).toEqual(pristine);
    const list = await runCli(['--db', file, 'datasets', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/SPair-71k/);
  });

  it('a database that is not SQLite and has no backups is refused as such, not called damaged', () => {
    const file = path.join(tmp, 'foreign', 'notes.db');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'These are my notes, not a database.\n'.repeat(200));
    expect(() => Store.open(file)).toThrow(/notes\.db is not an SQLite database/);
  });
});

describe('damage met at run time is STORE_INVALID with the way out, never INTERNAL', () => {
  let api: Api;
  let client: InMemoryClient;
  afterAll(async () => {
    client?.close();
    await api?.close();
  });

  it("an image's undo on damaged history pages", async () => {
    const file = path.join(tmp, 'runtime', 'workstation.db');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(good, file);
    fs.cpSync(`${good}-backups`, `${file}-backups`, { recursive: true });
    const backup = path.join(`${file}-backups`, path.basename(goodBackup));
    api = createApi({ db: file });
    client = createInMemoryClient(api);
    const { ok, fail } = apiCalls(
      () => client,
      () => api,
    );
    await ok('datasets:list'); // opens (and checks) the sound store
    // the disk garbles every page of the history while the server runs; another process's write
    // makes this connection drop the pages it had cached, as it would after any other writer
    const { pages, pageSize } = pagesOf(file, 'annotation_history');
    for (const p of pages) overwrite(file, (p - 1) * pageSize, crypto.randomBytes(pageSize));
    const other = new Database(file);
    other.pragma(`user_version = ${other.pragma('user_version', { simple: true }) as number}`);
    other.close();

    const err = await fail('annotations:undo', { imageId: annotated.imageId, categoryId: annotated.categoryId, baseVersion: annotated.version });
    expect(err.code).toBe('STORE_INVALID');
    expect(err.message).toContain(`The database ${file} is damaged`);
    expect(err.message).toContain(`The newest good backup is ${backup}`);
  });
});

describe('backups', () => {
  it('are made while another process writes, each checked, rotated to the newest 5; restoring one gives its data back', async () => {
    const file = path.join(tmp, 'busy', 'workstation.db');
    Store.open(file).close();
    const stop = path.join(tmp, 'busy', 'stop');
    const writer = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/helpers/store-worker.ts'), 'train', file, stop], { cwd: REPO, env: { ...process.env } });
    let out = '';
    writer.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => writer.on('close', resolve));

    const store = Store.open(file, { backups: false });
    const metrics = (f: string) => {
      const db = new Database(f, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM metrics').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // names carry the time a backup was made: these are an hour ahead, so they are the newest
    const base = Date.now() + 3600_000;
    const made = [];
    try {
      // wait until the writer is writing
      for (let i = 0; i < 400 && metrics(file) === 0; i++) await new Promise((r) => setTimeout(r, 25));
      for (let i = 0; i < 7; i++) {
        made.push(makeBackup(store.db, file, {}, new Date(base + i * 60_000)));
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      fs.writeFileSync(stop, '');
      store.close();
    }
    expect(await exited).toBe(0);
    const report = JSON.parse(out) as { ops: number; errors: string[] };
    expect(report.errors).toEqual([]);

    const kept = listBackups(file);
    expect(kept.map((b) => b.file)).toEqual(
      made
        .slice(2)
        .reverse()
        .map((b) => b.file),
    );
    for (const b of kept) expect(checkFile(b.file, { maxBytes: Infinity }).ok).toBe(true);
    // each is one consistent snapshot of a store being written: the metrics only grow
    const counts = kept.map((b) => metrics(b.file)).reverse();
    expect(counts[0]).toBeGreaterThan(0);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(counts[counts.length - 1]).toBeGreaterThan(counts[0]!);
    // one self-contained file each (no -wal or -shm beside it)
    expect(
      fs
        .readdirSync(`${file}-backups`)
        .filter((n) => !n.startsWith('.'))
        .sort(),
    ).toEqual(kept.map((b) => path.basename(b.file)).sort());

    const chosen = kept[2]!;
    const expected = metrics(chosen.file);
    const restored = restoreBackup(file, chosen.file);
    expect(restored.keptAs).not.toBeNull();
    Store.open(file, { backups: false }).close();
    expect(metrics(file)).toBe(expected);
  });

  it('are made at most once a day, at open or close', () => {
    const file = path.join(tmp, 'daily', 'workstation.db');
    Store.open(file).close(); // a new database: its first backup when it closes
    expect(listBackups(file)).toHaveLength(1);
    Store.open(file).close(); // the same day: no new one
    expect(listBackups(file)).toHaveLength(1);
    const store = Store.open(file, { backups: false });
    try {
      const newest = listBackups(file)[0]!.time.getTime();
      expect(backupIfDue(store.db, file, {}, new Date(newest + 3600_000))).toBeNull();
      expect(backupIfDue(store.db, file, {}, new Date(newest + BACKUP_EVERY_MS + 1000))).not.toBeNull();
    } finally {
      store.close();
    }
    expect(listBackups(file)).toHaveLength(2);
  });
});

describe('temporary files and full disks (item 9)', () => {
  it('opening the services removes orphaned .tmp files from the cache, never a fresh one or one of a live process', () => {
    const db = path.join(tmp, 'sweep', 'w.db');
    const cache = `${db}-cache`;
    const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
    const plant = (rel: string, mtime?: number) => {
      const f = path.join(cache, rel);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, 'partial');
      if (mtime !== undefined) fs.utimesSync(f, mtime, mtime);
      return f;
    };
    const orphanTensor = plant(`tensors/vae/ab/${'ab'.repeat(16)}.bin.999999999.1a2b3c4d.tmp`, old);
    const orphanPng = plant(`generated/${'cd'.repeat(16)}.png.999999998.tmp`, old);
    const orphanThumb = plant('thumbnails/ef/ef01-256.jpg.0badc0de.tmp', old);
    const fresh = plant(`tensors/vae/ab/${'ab'.repeat(16)}.bin.999999997.deadbeef.tmp`);
    const live = plant(`tensors/vae/cd/${'cd'.repeat(16)}.bin.${process.pid}.cafebabe.tmp`, old);
    const entry = plant(`tensors/vae/ab/${'ab'.repeat(16)}.bin`, old);

    const svc = openServices(db);
    svc.close();
    for (const f of [orphanTensor, orphanPng, orphanThumb]) expect(fs.existsSync(f), f).toBe(false);
    for (const f of [fresh, live, entry]) expect(fs.existsSync(f), f).toBe(true);
    // at most hourly: a second open does not walk the cache again
    const another = plant(`generated/${'ee'.repeat(16)}.png.999999996.tmp`, old);
    openServices(db).close();
    expect(fs.existsSync(another)).toBe(true);
    expect(sweepStaleTempFiles(cache, { force: true })).toEqual([another]);
  });

  it('a cache write that fails leaves no temporary file behind', () => {
    const cache = new TensorCache(path.join(tmp, 'failing-cache'));
    const key = '12'.repeat(16);
    // the entry's place is taken by a folder: the rename after the write fails
    const blocked = path.join(cache.dir, 'vae', key.slice(0, 2), `${key}.bin`);
    fs.mkdirSync(path.join(blocked, 'x'), { recursive: true });
    expect(() => cache.put('vae', key, { dtype: 'float32', dims: [2], data: new Float32Array([1, 2]) })).toThrow();
    expect(fs.readdirSync(path.dirname(blocked))).toEqual([`${key}.bin`]);
  });

  it('a full disk met anywhere is DISK_FULL, not INTERNAL (a real ENOSPC from /dev/full)', () => {
    if (!fs.existsSync('/dev/full')) return; // Linux only; the tmpfs test below covers the write paths
    let err: unknown;
    try {
      fs.writeFileSync('/dev/full', 'x');
    } catch (e) {
      err = e;
    }
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // a write(2) error does not carry its path: said generically; the write paths that know their file name it (below)
    expect(serializeError(err)).toEqual({ code: 'DISK_FULL', message: 'could not write a file: the disk is full; free some space on that disk and try again' });
  });

  const canMount = process.platform === 'linux' && spawnSync('unshare', ['-rm', 'true']).status === 0;
  it.skipIf(!canMount)('on a full file system, a tensor cache write and a database write are DISK_FULL naming the folder, and leave no .tmp (tiny tmpfs in a user namespace)', () => {
    const mnt = fs.mkdtempSync(path.join(tmp, 'tiny-'));
    const script = path.join(REPO, 'test/helpers/disk-full-worker.ts');
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=512k tmpfs "$1" && exec "$2" --import tsx "$3" "$1"', 'sh', mnt, process.execPath, script], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { code: string; message: string } | string[]>;
    expect(out.tensor).toEqual({
      code: 'DISK_FULL',
      message: expect.stringContaining(`could not write the vae cache entry ${'ab'.repeat(16)} in ${path.join(mnt, 'tensors', 'vae', 'ab')}: the disk is full`),
    });
    expect(out.tensorLeftovers).toEqual([]);
    expect(out.sqlite).toEqual({ code: 'DISK_FULL', message: expect.stringContaining(`could not write to the database ${path.join(mnt, 'w.db')} in ${mnt}: the disk is full`) });
  });
});

/**
 * The SQLite store on real temp files: WAL and foreign keys, migrations (in order, each in a
 * transaction, refusing newer databases and files that are not ours), busy handling, and the thin
 * repositories later issues build on (models, prompts, runs, metrics, checkpoints, cache entries).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { latestSchemaVersion, Store } from '../../src/main/store/db.js';
import { MIGRATIONS, type Migration } from '../../src/main/store/migrations/index.js';
import { repos } from '../../src/main/store/repositories/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-store-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dbFile = () => path.join(tmp, `s${++n}.db`);

describe('opening a database', () => {
  it('creates the schema at the latest version, in WAL mode with foreign keys on', () => {
    const file = path.join(tmp, 'nested', 'dir', 'w.db');
    const store = Store.open(file);
    try {
      expect(store.schemaVersion()).toBe(latestSchemaVersion());
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(store.cacheDir).toBe(`${file}-cache`);
      const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
      // later migrations add tables; the core schema of 0001 is always there
      expect(tables).toEqual(
        expect.arrayContaining(['annotations', 'cache_entries', 'categories', 'checkpoints', 'datasets', 'images', 'keypoints', 'metrics', 'models', 'pairs', 'prompt_tensors', 'prompts', 'runs']),
      );
    } finally {
      store.close();
    }
    // Reopening runs no migration and changes nothing.
    const again = Store.open(file);
    expect(again.schemaVersion()).toBe(latestSchemaVersion());
    again.close();
  });

  it('refuses a database from a newer version, naming both versions', () => {
    const file = dbFile();
    Store.open(file).close();
    const raw = new Database(file);
    raw.pragma('user_version = 42');
    raw.close();
    expect(() => Store.open(file)).toThrow(
      expect.objectContaining({
        code: 'STORE_VERSION',
        message: expect.stringMatching(
          new RegExp(`written by a newer version of SD4Match Workstation \\(database schema version 42\\); this version understands schema versions up to ${latestSchemaVersion()}`),
        ),
      }),
    );
  });

  it('refuses files that are not SQLite, and SQLite databases of other applications', () => {
    const notDb = path.join(tmp, 'notes.db');
    fs.writeFileSync(notDb, 'these are my notes, not a database '.repeat(200));
    expect(() => Store.open(notDb)).toThrow(expect.objectContaining({ code: 'STORE_INVALID', message: `${notDb} is not an SQLite database` }));
    const other = dbFile();
    const raw = new Database(other);
    raw.exec('CREATE TABLE songs (id INTEGER PRIMARY KEY)');
    raw.close();
    expect(() => Store.open(other)).toThrow(/did not create \(it has 1 tables and no workstation schema\)/);
    expect(new Database(other).prepare('SELECT count(*) AS n FROM sqlite_master').get()).toEqual({ n: 1 });
  });

  it('applies pending migrations in order and rolls a failing one back entirely', () => {
    const file = dbFile();
    Store.open(file, { migrations: [MIGRATIONS[0]!] }).close();
    const broken: Migration = {
      version: 2,
      name: 'broken',
      up(db) {
        db.exec('CREATE TABLE half_done (x)');
        throw new Error('disk says no');
      },
    };
    expect(() => Store.open(file, { migrations: [MIGRATIONS[0]!, broken] })).toThrow(/database migration 0002-broken failed on .*: disk says no/);
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get()).toEqual({ n: 0 });
    raw.close();
    const good: Migration = { version: 2, name: 'notes', up: (db) => db.exec('ALTER TABLE datasets ADD COLUMN notes TEXT') };
    const store = Store.open(file, { migrations: [MIGRATIONS[0]!, good] });
    expect(store.schemaVersion()).toBe(2);
    store.close();
  });

  it('waits for another writer instead of failing, and gives up with STORE_BUSY after the deadline', async () => {
    const file = dbFile();
    const store = Store.open(file, { retryDeadlineMs: 300 });
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const waiting = store.write((db) => repos(db).models.upsert({ name: 'sd', kind: 'stable-diffusion', folder: '/m/sd' }));
      setTimeout(() => other.exec('COMMIT'), 100);
      await expect(waiting).resolves.toMatchObject({ name: 'sd' });
      other.exec('BEGIN IMMEDIATE');
      await expect(store.write((db) => repos(db).models.list())).rejects.toMatchObject({ code: 'STORE_BUSY' });
      // Readers are not blocked by the writer (WAL).
      await expect(store.read((db) => repos(db).models.list().length)).resolves.toBe(1);
      other.exec('ROLLBACK');
    } finally {
      other.close();
      store.close();
    }
  });
});

describe('schema 8: symmetric keypoint pairs', () => {
  it('upgrades a version-7 database: every category gets no pairs, and pairs set later are kept', () => {
    const file = dbFile();
    Store.open(file, { migrations: MIGRATIONS.slice(0, 7) }).close();
    const raw = new Database(file);
    const datasetId = Number(raw.prepare("INSERT INTO datasets (name, format, root, source, created_at, updated_at) VALUES ('d', 'folder', '/d', '', 0, 0)").run().lastInsertRowid);
    const kps = JSON.stringify([
      { name: 'left_eye', color: '#112233' },
      { name: 'right_eye', color: '#112233' },
    ]);
    const catId = Number(raw.prepare("INSERT INTO categories (dataset_id, name, ordinal, keypoints, skeleton) VALUES (?, 'cat', 0, ?, '[]')").run(datasetId, kps).lastInsertRowid);
    raw.close();
    const store = Store.open(file);
    try {
      expect(store.schemaVersion()).toBe(8);
      const r = repos(store.db);
      expect(r.datasets.category(catId)).toMatchObject({ name: 'cat', flipPairs: [] });
      r.datasets.setKeypointSchema(catId, r.datasets.category(catId)!.keypoints, [], [[1, 0]]);
      expect(r.datasets.category(catId)!.flipPairs).toEqual([[0, 1]]);
      expect(() => r.datasets.setKeypointSchema(catId, r.datasets.category(catId)!.keypoints, [], [[0, 2]])).toThrow(/symmetric pair 1 \[0, 2\] does not join two of the 2 keypoints/);
    } finally {
      store.close();
    }
  });
});

describe('repositories', () => {
  const store = Store.open(dbFile());
  afterAll(() => store.close());
  const r = () => repos(store.db);

  it('models: registers a folder once; a later record keeps its name and merges what it knows; update changes it in place', () => {
    const a = r().models.upsert({
      name: 'SD 2-1',
      kind: 'stable-diffusion',
      folder: '/models/sd21',
      hashes: { 'unet/model.onnx': 'abc' },
      info: { tokenizer: true, hiddenSize: 1024 },
      validated: true,
    });
    const b = r().models.upsert({ name: 'sd21', kind: 'stable-diffusion', folder: '/models/sd21', hashes: { 'unet/model.onnx': 'def' }, info: { compiled: 'k1' } });
    expect(b.id).toBe(a.id);
    expect(b).toMatchObject({ name: 'SD 2-1', hashes: { 'unet/model.onnx': 'def' }, info: { tokenizer: true, hiddenSize: 1024, compiled: 'k1' }, validatedAt: a.validatedAt });
    const c = r().models.update(a.id, { name: 'SD 2.1' });
    expect(c).toMatchObject({ id: a.id, name: 'SD 2.1', folder: '/models/sd21', info: b.info, hashes: b.hashes });
    r().models.setProvider(a.id, 'webgpu');
    expect(r().models.get(a.id)!.provider).toBe('webgpu');
  });

  it('prompts: keep their parameters as tensors and their provenance', () => {
    const rows = new Float32Array(75 * 4).map((_, i) => i / 7);
    const p = r().prompts.create({
      name: 'single aeroplane',
      kind: 'single',
      config: { rows: 75 },
      provenance: { source: 'train', note: 'test' },
      tensors: { rows: { dtype: 'float32', dims: [75, 4], data: rows }, step: { dtype: 'int64', dims: [1], data: BigInt64Array.from([30000n]) } },
    });
    const t = r().prompts.tensors(p.id);
    expect(t.rows!.dims).toEqual([75, 4]);
    expect([...t.rows!.data]).toEqual([...rows]);
    expect([...t.step!.data]).toEqual([30000n]);
    expect(
      r()
        .prompts.list({ kind: 'single' })
        .map((x) => x.id),
    ).toContain(p.id);
    expect(() => r().prompts.putTensor(p.id, 'bad', { dtype: 'float32', dims: [3], data: new Float32Array(2) })).toThrow(/2 elements but dims \[3\] need 3/);
  });

  it('runs: start, progress, fail with a reason, resume from the latest checkpoint', () => {
    const run = r().runs.create({ kind: 'train', config: { lr: 0.01, batch: 9 }, totalSteps: 100 });
    expect(run.status).toBe('queued');
    r().runs.start(run.id, { provider: 'cpu' });
    for (let step = 1; step <= 5; step++) {
      r().runs.recordMetrics(run.id, step, { loss: 10 - step });
      r().runs.progress(run.id, step);
    }
    r().runs.addCheckpoint({ runId: run.id, step: 3, path: '/ck/3', bytes: 10, sha256: 'x', metricName: 'pck@0.1', metricValue: 0.4, isBest: true });
    r().runs.addCheckpoint({ runId: run.id, step: 5, path: '/ck/5', bytes: 10, sha256: 'y', metricName: 'pck@0.1', metricValue: 0.3 });
    r().runs.fail(run.id, 'out of memory on the GPU');
    expect(r().runs.get(run.id)).toMatchObject({ status: 'failed', failureReason: 'out of memory on the GPU', step: 5, provider: 'cpu' });
    expect(() => store.db.prepare("UPDATE runs SET status = 'failed', failure_reason = NULL WHERE id = ?").run(run.id)).toThrow(/CHECK constraint failed/);
    const ck = r().runs.latestCheckpoint(run.id)!;
    expect(ck.step).toBe(5);
    expect(r().runs.bestCheckpoint(run.id)!.step).toBe(3);
    r().runs.truncateMetricsAfter(run.id, 3);
    expect(
      r()
        .runs.metricSeries(run.id, 'loss')
        .map((m) => m.step),
    ).toEqual([1, 2, 3]);
    expect(r().runs.start(run.id, { provider: 'webgpu' })).toMatchObject({ status: 'running', failureReason: null, provider: 'webgpu' });
    r().runs.complete(run.id);
    expect(() => r().runs.start(run.id, { provider: 'cpu' })).toThrow(/run \d+ is completed/);
  });

  it('runs: a run left running by a process that died is marked failed with the reason', () => {
    const run = r().runs.create({ kind: 'eval', config: {} });
    r().runs.start(run.id, { provider: 'cpu', pid: 999_999_999 });
    r().runs.progress(run.id, 12);
    expect(r().runs.recoverInterrupted({ isAlive: () => false })).toEqual([run.id]);
    expect(r().runs.get(run.id)).toMatchObject({ status: 'failed', failureReason: expect.stringMatching(/stopped unexpectedly at step 12/) });
  });

  it('runs: count the time spent running, not the time between a cancel and a resume', () => {
    const run = r().runs.create({ kind: 'train', config: {}, totalSteps: 10 });
    // (time is moved by rewriting the start stamps: the repository reads the clock itself)
    const back = (ms: number) => store.db.prepare('UPDATE runs SET resumed_at = resumed_at - ?, started_at = started_at - ? WHERE id = ?').run(ms, ms, run.id);
    r().runs.start(run.id, { provider: 'cpu' });
    back(5000);
    r().runs.cancel(run.id);
    const first = r().runs.get(run.id)!;
    expect(first.resumedAt).toBeNull();
    expect(first.activeMs).toBeGreaterThanOrEqual(5000);
    expect(first.activeMs).toBeLessThan(6000);
    // a day passes, then it resumes for two more seconds
    store.db.prepare('UPDATE runs SET started_at = started_at - 86400000 WHERE id = ?').run(run.id);
    r().runs.start(run.id, { provider: 'cpu' });
    expect(r().runs.get(run.id)!.activeMs).toBe(first.activeMs);
    back(2000);
    r().runs.complete(run.id);
    const done = r().runs.get(run.id)!;
    expect(done.activeMs).toBeGreaterThanOrEqual(first.activeMs + 2000);
    expect(done.activeMs).toBeLessThan(first.activeMs + 3000);
    expect(done.finishedAt! - done.startedAt!).toBeGreaterThan(86_400_000);

    // a run whose process died ran until its last heartbeat
    const lost = r().runs.create({ kind: 'train', config: {} });
    r().runs.start(lost.id, { provider: 'cpu', pid: 999_999_999 });
    const t = r().runs.get(lost.id)!.resumedAt!;
    store.db.prepare('UPDATE runs SET resumed_at = ?, heartbeat_at = ? WHERE id = ?').run(t - 10_000, t - 4_000, lost.id);
    expect(r().runs.recoverInterrupted({ isAlive: () => false })).toEqual([lost.id]);
    expect(r().runs.get(lost.id)!.activeMs).toBe(6_000);
  });

  it("runs: migrating to schema 4 takes a finished run's wall time as its active time", () => {
    const file = dbFile();
    Store.open(file, { migrations: MIGRATIONS.slice(0, 3) }).close();
    const raw = new Database(file);
    raw.prepare("INSERT INTO runs (kind, name, status, config, step, created_at, started_at, updated_at, finished_at) VALUES ('train', 'old', 'completed', '{}', 5, 0, 1000, 0, 61000)").run();
    raw.close();
    const store4 = Store.open(file);
    try {
      expect(store4.schemaVersion()).toBe(latestSchemaVersion());
      expect(repos(store4.db).runs.list()[0]).toMatchObject({ name: 'old', activeMs: 60_000, resumedAt: null });
    } finally {
      store4.close();
    }
  });

  it('cache entries: least recently used first when over the budget', () => {
    const c = r().cache;
    c.put({ key: 'a', kind: 'thumbnail', path: '/c/a', bytes: 100 });
    c.put({ key: 'b', kind: 'thumbnail', path: '/c/b', bytes: 100 });
    c.put({ key: 'l', kind: 'latent', path: '/c/l', bytes: 1000 });
    store.db.prepare("UPDATE cache_entries SET last_used_at = 1 WHERE key = 'b'").run();
    expect(c.totalBytes('thumbnail')).toBe(200);
    expect(c.evictionCandidates(150, 'thumbnail').map((e) => e.key)).toEqual(['b']);
    expect(c.evictionCandidates(1000).map((e) => e.key)).toEqual(['b', 'a']);
  });

  it('deleting a dataset removes its rows and unlinks what referenced it', () => {
    const d = r().datasets.create({ name: 'tmp', format: 'folder', root: '/tmp/x' });
    const cat = r().datasets.upsertCategory(d.id, { name: 'thing', ordinal: 0, keypoints: [{ name: 'a', color: '#fff' }], skeleton: [] });
    const img = r().images.upsert(d.id, { path: 'a.jpg', categoryId: cat, width: 10, height: 10, format: 'jpeg', bytes: 1, sha256: 'x' });
    r().images.saveAnnotation({ imageId: img, categoryId: cat, instance: 0, bbox: [0, 0, 5, 5], keypoints: [{ kp: 0, x: 1, y: 2, visibility: 2 }] });
    const prompt = r().prompts.create({ name: 'p', kind: 'class', datasetId: d.id });
    expect(r().datasets.delete(d.id)).toEqual({ images: 1, pairs: 0, categories: 1, annotations: 1 });
    expect(store.db.prepare('SELECT count(*) AS n FROM keypoints').get()).toEqual({ n: 0 });
    expect(r().prompts.get(prompt.id)!.datasetId).toBeNull();
    expect(() => r().datasets.resolve('tmp')).toThrow(/no dataset 'tmp'/);
  });

  it('checks a keypoint schema edit against its skeleton', () => {
    const d = r().datasets.create({ name: 'schema', format: 'folder', root: '/tmp/y' });
    const cat = r().datasets.upsertCategory(d.id, { name: 'thing', ordinal: 0, keypoints: [], skeleton: [] });
    expect(() => r().datasets.setKeypointSchema(cat, [{ name: 'a', color: '#f00' }], [[0, 1]])).toThrow(/skeleton edge \[0, 1\] does not join two of the 1 keypoints/);
  });
});

/**
 * Schema 6 (generated images) on temp SQLite files: a version-5 database upgrades keeping its
 * rows, and the repository stores, finds by cache key, replaces and forgets images, with the
 * schema's checks refusing rows that make no sense.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/main/store/db.js';
import { MIGRATIONS } from '../../src/main/store/migrations/index.js';
import { type GeneratedImageInput, repos } from '../../src/main/store/repositories/index.js';

let dir: string;
let n = 0;
const dbFile = () => path.join(dir, `g${n++}.db`);

const image = (key: string, over: Partial<GeneratedImageInput> = {}): GeneratedImageInput => ({
  cacheKey: key,
  modelId: null,
  promptId: null,
  label: '"a cat"',
  text: 'a cat',
  category: null,
  pairId: null,
  seed: 3,
  steps: 25,
  guidance: 7.5,
  width: 768,
  height: 768,
  settings: { fingerprint: 'f' },
  path: `generated/${key}.png`,
  bytes: 1000,
  seconds: 1.5,
  provider: 'cpu',
  ...over,
});

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-gen-store-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('migration 0006', () => {
  it('upgrades a version-5 database file, keeping its rows', () => {
    const file = dbFile();
    Store.open(file, { migrations: MIGRATIONS.slice(0, 5) }).close();
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(5);
    raw.prepare("INSERT INTO prompts (id, name, kind, created_at) VALUES (1, 'empty prompt', 'baseline', 0)").run();
    raw.close();
    const store = Store.open(file);
    try {
      expect(store.schemaVersion()).toBe(MIGRATIONS.length);
      const r = repos(store.db);
      expect(r.prompts.get(1)).toMatchObject({ name: 'empty prompt' });
      expect(r.generated.put(image('k', { promptId: 1 })).promptId).toBe(1);
      expect(store.db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe('GeneratedImagesRepo', () => {
  it('stores, finds by cache key, replaces under the same key and forgets images', () => {
    const store = Store.open(dbFile());
    try {
      const r = repos(store.db).generated;
      const a = r.put(image('a'));
      const b = r.put(image('b', { seed: 4 }));
      expect(r.get(a.id)).toMatchObject({ cacheKey: 'a', seed: 3, settings: { fingerprint: 'f' }, label: '"a cat"' });
      const found = r.byKeys(['a', 'b', 'c']);
      expect([...found.keys()].sort()).toEqual(['a', 'b']);
      expect(found.get('b')!.id).toBe(b.id);
      const again = r.put(image('a', { seconds: 9, label: 'empty prompt' }));
      expect(again.id).toBe(a.id);
      expect(r.get(a.id)).toMatchObject({ seconds: 9, label: 'empty prompt' });
      expect(r.count()).toBe(2);
      expect(r.delete(a.id)).toBe(true);
      expect(r.delete(a.id)).toBe(false);
      expect(r.byKeys(['a']).size).toBe(0);
    } finally {
      store.close();
    }
  });

  it.each([
    ['a negative seed', { seed: -1 }],
    ['zero steps', { steps: 0 }],
    ['a negative guidance scale', { guidance: -0.5 }],
    ['an empty file', { bytes: 0 }],
  ])('refuses %s', (_, over) => {
    const store = Store.open(dbFile());
    try {
      expect(() => repos(store.db).generated.put(image('x', over))).toThrow(/CHECK constraint failed/);
    } finally {
      store.close();
    }
  });
});

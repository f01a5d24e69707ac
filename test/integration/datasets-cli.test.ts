/**
 * `sd4match import` and `sd4match datasets ...` through the real CLI in a child process, on a
 * temp --db: human and --json output, and bad input as one clean error line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestSchemaVersion } from '../../src/main/store/db.js';
import { runCli, expectCleanFailure } from '../helpers/cli.js';
import { genPfPascal, genSpair } from '../helpers/dataset-gen.js';

let tmp: string;
let db: string;
let spairRoot: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-cli-'));
  db = path.join(tmp, 'cli.db');
  spairRoot = (await genSpair(path.join(tmp, 'SPair-71k'))).root;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sd4match import / datasets', () => {
  it('imports SPair-71k into the --db file and prints the report', async () => {
    const r = await runCli(['--db', db, 'import', '--format', 'spair', '--root', spairRoot]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported dataset 'SPair-71k' \(id 1, spair\) from .+ in [\d.]+s$/m);
    expect(r.stdout).toMatch(/^ {2}pairs {8}11 \(trn 6, val 2, test 3\), \d+ correspondences$/m);
    // Progress went to stderr, stage by stage.
    for (const stage of ['scanning', 'reading annotations', 'checking images', 'writing']) expect(r.stderr).toMatch(new RegExp(`^${stage} \\d+/\\d+ `, 'm'));
    expect(fs.existsSync(db)).toBe(true);
  });

  it('prints the report as JSON with --json, and re-importing updates in place', async () => {
    const r = await runCli(['import', '--format', 'spair', '--root', spairRoot, '--json', '--quiet', '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ datasetId: 1, created: false, pairs: 11, pairsBySplit: { trn: 6, val: 2, test: 3 }, skipped: [] });
  });

  it('lists datasets as a table and as JSON', async () => {
    const pf = await genPfPascal(path.join(tmp, 'pf-pascal'));
    expect((await runCli(['--db', db, 'import', '--format', 'pfpascal', '--root', pf.root, '--name', 'pascal', '--quiet'])).code).toBe(0);
    const human = await runCli(['--db', db, 'datasets', 'list']);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\s*id\s+name\s+format\s+images\s+categories\s+pairs\s+annotations\s+root$/);
    expect(lines[2]).toMatch(/^\s*1\s+SPair-71k\s+spair\s+11\s+3\s+11\s+11\s+\//);
    expect(lines[3]).toMatch(/^\s*2\s+pascal\s+pfpascal\s+/);
    const json = JSON.parse((await runCli(['--db', db, 'datasets', 'list', '--json'])).stdout) as { name: string; pairs: number }[];
    expect(json.map((d) => [d.name, d.pairs])).toEqual([
      ['SPair-71k', 11],
      ['pascal', 12],
    ]);
  });

  it('shows one dataset with per-category counts', async () => {
    const human = await runCli(['--db', db, 'datasets', 'show', 'SPair-71k']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^SPair-71k \(id 1\)$/m);
    expect(human.stdout).toMatch(/^category\s+keypoints\s+images\s+annotations\s+trn\s+val\s+test$/m);
    expect(human.stdout).toMatch(/^aeroplane\s+\d+\s+\d+\s+\d+\s+2\s+1\s+1$/m);
    const json = JSON.parse((await runCli(['--db', db, 'datasets', 'show', '2', '--json'])).stdout) as { name: string; pairsBySplit: unknown; categoryStats: unknown[] };
    expect(json).toMatchObject({ name: 'pascal', pairsBySplit: { trn: 6, val: 3, test: 3 } });
    expect(json.categoryStats).toHaveLength(3);
  });

  it('exports COCO keypoints that import back', async () => {
    const out = path.join(tmp, 'export', 'spair.json');
    const r = await runCli(['--db', db, 'datasets', 'export-coco', 'SPair-71k', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .+spair\.json: 11 images, 11 annotations \(\d+ keypoints\), 3 categories; file_name is relative to /);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { images: unknown[]; annotations: unknown[]; categories: unknown[] };
    expect([doc.images.length, doc.annotations.length, doc.categories.length]).toEqual([11, 11, 3]);
    const back = await runCli(['--db', db, 'import', '--format', 'coco', '--root', spairRoot, '--annotations', out, '--name', 'spair-coco', '--json', '--quiet']);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ images: 11, annotations: 11, categories: 3 });
  });

  it('deletes a dataset by name, leaving its files alone', async () => {
    const r = await runCli(['--db', db, 'datasets', 'delete', 'spair-coco', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dataset: { name: 'spair-coco' }, deleted: { images: 11, annotations: 11 } });
    expect(fs.existsSync(path.join(spairRoot, 'JPEGImages'))).toBe(true);
    const human = await runCli(['--db', db, 'datasets', 'delete', 'pascal']);
    expect(human.stdout).toMatch(/^deleted dataset 'pascal' \(id 2\): 11 images, 12 pairs, 11 annotations, 3 categories$/m);
  });

  it('uses $SD4MATCH_DB when --db is not given', async () => {
    const r = await runCli(['datasets', 'list', '--json'], { env: { SD4MATCH_DB: db } });
    expect((JSON.parse(r.stdout) as { name: string }[]).map((d) => d.name)).toEqual(['SPair-71k']);
  });

  it('rejects bad input with one line naming the file, and leaves the database as it was', async () => {
    const root = path.join(tmp, 'SPair-bad');
    fs.cpSync(spairRoot, root, { recursive: true });
    const layout = fs.readFileSync(path.join(root, 'Layout/large/trn.txt'), 'utf8').split('\n')[0]!;
    fs.writeFileSync(path.join(root, `PairAnnotation/trn/${layout}.json`), '{"src_kps": [[1, 2]');
    const before = fs.readFileSync(db).length;
    const r = await runCli(['--db', db, 'import', '--format', 'spair', '--root', root, '--name', 'bad', '--quiet']);
    expectCleanFailure(r, new RegExp(`PairAnnotation/trn/${layout.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.json: malformed JSON`));
    const list = JSON.parse((await runCli(['--db', db, 'datasets', 'list', '--json'])).stdout) as { name: string }[];
    expect(list.map((d) => d.name)).toEqual(['SPair-71k']);
    expect(before).toBeGreaterThan(0);
  });

  it('names an unknown dataset, a missing root and an invalid format', async () => {
    expectCleanFailure(await runCli(['--db', db, 'datasets', 'show', 'nope']), /no dataset 'nope' \(see `sd4match datasets list`\)/);
    expectCleanFailure(await runCli(['--db', db, 'import', '--format', 'spair', '--root', path.join(tmp, 'absent')]), /dataset root .*absent does not exist/);
    const bad = await runCli(['--db', db, 'import', '--format', 'voc', '--root', tmp]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/option '--format <format>' argument 'voc' is invalid\. Allowed choices are spair, pfpascal, pfwillow, folder, coco/);
  });

  it('refuses a database from a newer version with a clear message', async () => {
    const newer = path.join(tmp, 'newer.db');
    fs.copyFileSync(db, newer);
    const raw = new Database(newer);
    raw.pragma('user_version = 99');
    raw.close();
    expectCleanFailure(
      await runCli(['--db', newer, 'datasets', 'list']),
      new RegExp(`newer\\.db was written by a newer version of SD4Match Workstation \\(database schema version 99\\); this version understands schema versions up to ${latestSchemaVersion()}`),
    );
  });
});

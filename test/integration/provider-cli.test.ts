/**
 * Execution providers from the user's side: `--provider` works and is recorded with the run and its
 * cached tensors, a wrong name or a provider that cannot run here is a precise error, the provider
 * probe prints nothing on the terminal and runs once per machine (its cache file is reused by the
 * next process), an injected probe that found only a software WebGPU adapter makes `auto` choose
 * the CPU with the reason, and the store keeps the provider setting (schema 7).
 *
 * With a software Vulkan driver at hand (Mesa's lavapipe: SD4MATCH_TEST_VULKAN_ICD names its ICD
 * manifest, SD4MATCH_TEST_VULKAN_LIB the folder holding libvulkan.so.1 and the driver, or a system
 * install), the real probe is also checked on it: llvmpipe recognised, skipped, terminal clean.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyAdapter } from '../../src/main/engine/onnx/adapter.js';
import type { MachineProbe } from '../../src/main/engine/onnx/provider-probe.js';
import { providerProbeKey } from '../../src/main/engine/onnx/runtime.js';
import { Store } from '../../src/main/store/db.js';
import { MIGRATIONS } from '../../src/main/store/migrations/index.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { softwareVulkan } from '../helpers/vulkan.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-provider-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fresh database path (its caches, the provider probe among them, go to `<db>-cache`). */
function freshDb(name: string): string {
  return path.join(dir, `${name}.db`);
}

function probeFileOf(db: string): string {
  return path.join(`${db}-cache`, 'provider-probe.json');
}

describe('schema 7', () => {
  it('upgrades a version-6 database: cache entries gain a provider, the provider setting defaults to auto and persists', () => {
    const file = freshDb('v6');
    Store.open(file, { migrations: MIGRATIONS.slice(0, 6) }).close();
    const raw = new Database(file);
    raw.prepare("INSERT INTO cache_entries (key, kind, path, bytes, meta, created_at, last_used_at) VALUES ('k', 'features', '/x.bin', 3, '{}', 0, 0)").run();
    raw.close();
    let store = Store.open(file, { migrations: MIGRATIONS.slice(0, 7) });
    try {
      expect(store.schemaVersion()).toBe(7);
      const r = repos(store.db);
      expect(r.cache.get('k')).toMatchObject({ kind: 'features', provider: null });
      r.cache.put({ key: 'w', kind: 'features', path: '/w.bin', bytes: 1, provider: 'webgpu' });
      expect(r.cache.get('w')?.provider).toBe('webgpu');
      expect(r.settings.get()).toEqual({ provider: 'auto' });
      expect(r.settings.set({ provider: 'cpu' })).toEqual({ provider: 'cpu' });
    } finally {
      store.close();
    }
    store = Store.open(file);
    try {
      expect(repos(store.db).settings.get()).toEqual({ provider: 'cpu' });
    } finally {
      store.close();
    }
  });
});

describe.skipIf(!HAVE_FIXTURES)('the provider probe seen from the CLI', () => {
  const sd = modelPath('sd');

  it('prints nothing on the terminal, probes once and the next process reuses it', async () => {
    const db = freshDb('probe-once');
    const first = await runCli(['--db', db, 'models', 'validate', '--model-dir', sd, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    const file = probeFileOf(db);
    const probe = JSON.parse(fs.readFileSync(file, 'utf8')) as MachineProbe;
    expect(probe.key).toBe(providerProbeKey());
    expect(probe.providers.at(-1)).toEqual({ provider: 'cpu', ok: true });
    const mtime = fs.statSync(file).mtimeMs;
    const second = await runCli(['--db', db, 'models', 'validate', '--model-dir', sd, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe('');
    // not probed again: the file is as the first process wrote it
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect((JSON.parse(fs.readFileSync(file, 'utf8')) as MachineProbe).probedAt).toBe(probe.probedAt);
    expect((JSON.parse(second.stdout) as { provider: string }).provider).toBe((JSON.parse(first.stdout) as { provider: string }).provider);
  });

  it('auto skips a software WebGPU adapter the probe found and says why', async () => {
    const db = freshDb('software');
    const llvmpipe = { name: 'llvmpipe (LLVM 15.0.6, 256 bits)', ...classifyAdapter({ name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }) };
    const injected: MachineProbe = {
      format: 1,
      key: providerProbeKey(),
      probedAt: 1,
      ortVersion: 'test',
      platform: `${process.platform}-${process.arch}`,
      providers: [
        { provider: 'webgpu', ok: true, adapter: llvmpipe },
        { provider: 'cpu', ok: true },
      ],
      log: {},
    };
    fs.mkdirSync(`${db}-cache`, { recursive: true });
    fs.writeFileSync(probeFileOf(db), JSON.stringify(injected));
    const r = await runCli(['--db', db, 'models', 'validate', '--model-dir', sd, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { provider: string; providerAttempts: { provider: string; ok: boolean; reason?: string }[] };
    expect(report.provider).toBe('cpu');
    expect(report.providerAttempts).toContainEqual({
      provider: 'webgpu',
      ok: false,
      reason: "skipped: software adapter llvmpipe (LLVM 15.0.6, 256 bits) is slower than the CPU provider (Mesa's llvmpipe renders on the CPU)",
    });
  });

  it('refuses an unknown provider name and a provider that cannot run here, naming the option', async () => {
    const db = freshDb('bad-name');
    expectCleanFailure(
      await runCli(['--db', db, '--provider', 'gpu', 'datasets', 'list']),
      /^error: unknown execution provider 'gpu' in --provider; expected one of: auto, cpu, webgpu, cuda, tensorrt, dml, coreml$/,
    );
    expectCleanFailure(await runCli(['--db', db, 'datasets', 'list'], { env: { SD4MATCH_PROVIDER: 'nvidia' } }), /unknown execution provider 'nvidia' in SD4MATCH_PROVIDER/);
    const probe = JSON.parse(fs.readFileSync(probeFileOf(freshDb('probe-once')), 'utf8')) as MachineProbe;
    const cuda = probe.providers.find((p) => p.provider === 'cuda');
    if (cuda && !cuda.ok) {
      expectCleanFailure(
        await runCli(['--db', db, '--provider', 'cuda', 'datasets', 'list']),
        new RegExp(`^error: the cuda execution provider \\(--provider\\) cannot run on this machine: ${cuda.reason!.replace(/[()]/g, '\\$&')}$`),
      );
    }
  });
});

describe.skipIf(!HAVE_FIXTURES)('train --provider', () => {
  let db: string;
  let sd: string;

  beforeAll(async () => {
    db = freshDb('train');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 8, 6, { size: 64, categories: ['cat'] });
    const r = await runCli(['--db', db, 'import', '--format', 'spair', '--root', path.join(dir, 'shift'), '--name', 'shift', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  const train = (extra: string[]) =>
    runCli(['--db', db, ...extra, 'train', '--model-dir', sd, '--dataset', 'shift', '--size', '64', '--batch', '2', '--steps', '2', '--val-every', '2', '--val-pairs', '2']);

  it('runs on the provider asked for and records it with the run and its cached tensors', async () => {
    const r = await train(['--provider', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/provider cpu/);
    const m = /^run (\d+) finished/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const store = Store.open(db);
    try {
      const rr = repos(store.db);
      const run = rr.runs.get(Number(m![1]))!;
      expect(run.status).toBe('completed');
      expect(run.provider).toBe('cpu');
      expect(run.config).toMatchObject({ args: { provider: 'cpu' }, provider: 'cpu' });
      const cached = store.db.prepare("SELECT kind, provider FROM cache_entries WHERE kind IN ('moments', 'features')").all() as { kind: string; provider: string | null }[];
      expect(cached.length).toBeGreaterThan(0);
      expect(new Set(cached.map((c) => c.provider))).toEqual(new Set(['cpu']));
    } finally {
      store.close();
    }
  });

  it('records auto with what it resolved to when no provider is given', async () => {
    const r = await train([]);
    expect(r.code, r.stderr).toBe(0);
    const m = /^run (\d+) finished/m.exec(r.stdout);
    const store = Store.open(db);
    try {
      const run = repos(store.db).runs.get(Number(m![1]))!;
      expect(run.config).toMatchObject({ args: { provider: 'auto' } });
      expect(String((run.config as { provider: string }).provider)).toMatch(new RegExp(`^auto -> ${run.provider}`));
    } finally {
      store.close();
    }
  });

  it('refuses an unknown provider before anything is recorded', async () => {
    expectCleanFailure(await train(['--provider', 'fastest']), /unknown execution provider 'fastest' in --provider; expected one of: auto, cpu, webgpu, cuda, tensorrt, dml, coreml/);
    const store = Store.open(db);
    try {
      expect(repos(store.db).runs.list({}).length).toBe(2);
    } finally {
      store.close();
    }
  });
});

const vulkan = softwareVulkan();

describe.skipIf(!HAVE_FIXTURES || !vulkan)('on a real software Vulkan driver (lavapipe)', () => {
  it('recognises llvmpipe, skips it under auto with the reason, keeps the terminal clean; --provider webgpu still uses it', async () => {
    const db = freshDb('lavapipe');
    const env = { ...vulkan!, XDG_RUNTIME_DIR: '' };
    const r = await runCli(['--db', db, 'models', 'validate', '--model-dir', modelPath('sd'), '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    // the Vulkan loader's and Dawn's warnings stayed in the probe's log
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { provider: string; providerAttempts: { provider: string; ok: boolean; reason?: string }[] };
    expect(report.provider).toBe('cpu');
    expect(report.providerAttempts.find((a) => a.provider === 'webgpu')?.reason).toMatch(/^skipped: software adapter llvmpipe .* is slower than the CPU provider/);
    const probe = JSON.parse(fs.readFileSync(probeFileOf(db), 'utf8')) as MachineProbe;
    expect(probe.providers.find((p) => p.provider === 'webgpu')).toMatchObject({ ok: true, adapter: { software: true } });
    expect(probe.log.webgpu).toMatch(/llvmpipe/);
    const forced = await runCli(['--db', db, '--provider', 'webgpu', 'models', 'validate', '--model-dir', modelPath('sd'), '--json'], { env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toBe('');
    expect((JSON.parse(forced.stdout) as { provider: string }).provider).toBe('webgpu');
  });
});

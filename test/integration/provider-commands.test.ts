/**
 * `--provider` reaches every command that computes: the `debug` stages, `eval` and `train` (and the
 * job processes these two start) run their sessions on the provider asked for, say which on their
 * output and record it with the run; a wrong name is refused by each before anything runs, naming
 * the option and the choices. The WebGPU half needs an adapter (a GPU, or Mesa's lavapipe:
 * `sudo node scripts/lavapipe.mjs`) and is skipped with one line saying why where there is none.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/main/engine/io/npy.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { type CliResult, expectCleanFailure, REPO, runCli } from '../helpers/cli.js';
import { caseDir, caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const NO_WEBGPU = HAVE_FIXTURES ? await webgpuUnavailable() : 'no fixtures';
const CHOICES = 'expected one of: auto, cpu, webgpu, cuda, tensorrt, dml, coreml';

let dir: string;
let db: string;
let sd: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-provider-cmds-'));
  db = path.join(dir, 'store.db');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const c = (name: string, file: string) => path.join(caseDir(name), `${file}.npy`);

/** `debug loss` on the reference case, with `extra` after the command (where a user types it). */
const debugLoss = (out: string, extra: string[]) =>
  runCli([
    '--db',
    db,
    'debug',
    'loss',
    '--src-features',
    c('loss', 'src_featmaps'),
    '--trg-features',
    c('loss', 'trg_featmaps'),
    '--src-kps',
    c('loss', 'src_kps'),
    '--trg-kps',
    c('loss', 'trg_kps'),
    '--n-pts',
    c('loss', 'n_pts'),
    '--image-size',
    '256x256',
    '--out',
    out,
    ...extra,
  ]);

/** `npm run bench -- <args>` in a child process (as runCli runs the CLI). */
function runBench(args: string[], timeoutMs = 240_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/run.ts'), ...args], { cwd: REPO, env: { ...process.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const evalArgs = () => ['eval', '--model-dir', sd, '--dataset', 'shift', '--split', 'val', '--size', '64', '--ensemble', '1', '--limit', '2', '--methods', 'kernelsoftmax'];
const trainArgs = () => ['train', '--model-dir', sd, '--dataset', 'shift', '--size', '64', '--batch', '2', '--steps', '2', '--val-every', '0'];

describe.skipIf(!HAVE_FIXTURES)('--provider on the commands that compute', () => {
  beforeAll(async () => {
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 6, 4, { size: 64, categories: ['cat'] });
    const r = await runCli(['--db', db, 'import', '--format', 'spair', '--root', path.join(dir, 'shift'), '--name', 'shift', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  it('a wrong provider name is refused by debug, eval and train before anything runs, naming the option and the choices', async () => {
    const out = path.join(dir, 'refused');
    expectCleanFailure(await debugLoss(out, ['--provider', 'gpu']), new RegExp(`unknown execution provider 'gpu' in --provider; ${CHOICES}`));
    expect(fs.existsSync(out)).toBe(false);
    expectCleanFailure(await runCli(['--db', db, ...evalArgs(), '--provider', 'fastest']), new RegExp(`unknown execution provider 'fastest' in --provider; ${CHOICES}`));
    expectCleanFailure(await runCli(['--db', db, ...trainArgs()], { env: { SD4MATCH_PROVIDER: 'vulkan' } }), new RegExp(`unknown execution provider 'vulkan' in SD4MATCH_PROVIDER; ${CHOICES}`));
    const store = Store.open(db);
    try {
      expect(repos(store.db).runs.list({})).toHaveLength(0);
    } finally {
      store.close();
    }
  });

  it('a bench refuses a wrong provider name before measuring anything', async () => {
    const r = await runBench(['scale', '--provider', 'gpu']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(new RegExp(`^bench failed: unknown execution provider 'gpu' in --provider; ${CHOICES}$`));
    expect(r.stdout).toBe('');
  });

  it('debug says the provider it ran on: the CPU when asked for', async () => {
    const r = await debugLoss(path.join(dir, 'loss-cpu'), ['--provider', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^provider cpu$/m);
  });

  describe.skipIf(!!NO_WEBGPU)('on WebGPU', () => {
    it('debug loss, features and match --provider webgpu run on WebGPU, say so, and match the reference', async () => {
      const loss = path.join(dir, 'loss-webgpu');
      const r = await debugLoss(loss, ['--provider', 'webgpu']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^provider webgpu$/m);
      // the CPU's tolerances (debug-fixtures): on another provider the numbers must not change
      expect(relErr(readNpy(path.join(loss, 'loss.npy')), caseTensor('loss', 'loss'))).toBeLessThan(1e-4);
      expect(relErr(readNpy(path.join(loss, 'grad_src_featmaps.npy')), caseTensor('loss', 'grad_src_featmaps'))).toBeLessThan(1e-3);

      const features = path.join(dir, 'features-webgpu.npy');
      const f = await runCli([
        '--db',
        db,
        'debug',
        'features',
        '--model-dir',
        modelPath('sd'),
        '--pixels',
        c('image_to_features', 'image'),
        '--encoder-hidden-states',
        c('image_to_features', 'encoder_hidden_states'),
        '--timestep',
        '261',
        '--vae-eps',
        c('image_to_features', 'eps_vae'),
        '--noise',
        c('image_to_features', 'noise'),
        '--out',
        features,
        '--provider',
        'webgpu',
      ]);
      expect(f.code, f.stderr).toBe(0);
      expect(f.stdout).toMatch(/^provider webgpu$/m);
      expect(relErr(readNpy(features), caseTensor('image_to_features', 'features_t261'))).toBeLessThan(1e-4);

      const m = await runCli([
        '--db',
        db,
        'debug',
        'match',
        '--src-features',
        c('matching', 'src_featmaps'),
        '--trg-features',
        c('matching', 'trg_featmaps'),
        '--src-kps',
        c('matching', 'src_kps'),
        '--n-pts',
        c('matching', 'n_pts'),
        '--image-size',
        '256x256',
        '--method',
        'kernelsoftmax',
        '--out',
        path.join(dir, 'matches-webgpu.npy'),
        '--provider',
        'webgpu',
      ]);
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toMatch(/^provider webgpu$/m);
      const got = readNpy(path.join(dir, 'matches-webgpu.npy'));
      const ref = caseTensor('matching', 'matches_kernelsoftmax');
      const stride = 2 * ref.dims[1];
      let worst = 0;
      // the valid keypoints of each pair within 1e-3 px, as debug-fixtures holds the CPU to
      Array.from(caseTensor('matching', 'n_pts').data as BigInt64Array, Number).forEach((n, b) => {
        for (let i = b * stride; i < b * stride + 2 * n; i++) worst = Math.max(worst, Math.abs(Number(got.data[i]) - Number(ref.data[i])));
      });
      expect(worst).toBeLessThan(1e-3);
    });

    it('bench scale --provider webgpu measures in processes of its own that run on WebGPU, and says so', async () => {
      const r = await runBench(['scale', '--provider', 'webgpu', '--sizes', '64', '--ensembles', '1', '--batches', '1', '--steps', '1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^provider: webgpu \(asked for; software adapter|^provider: webgpu$/m);
      // the title is made from what the measured processes report their sessions ran on
      expect(r.stdout).toMatch(/^scale: .*, provider webgpu \(/m);
    });

    it('eval --provider webgpu evaluates in a job process on WebGPU, says so and records it with the run', async () => {
      const r = await runCli(['--db', db, ...evalArgs(), '--provider', 'webgpu']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/PCK \(%\) per image in the resized frame, provider webgpu/);
      const id = Number(/^run (\d+)$/m.exec(r.stdout)![1]);
      const store = Store.open(db);
      try {
        expect(repos(store.db).runs.get(id)).toMatchObject({ status: 'completed', provider: 'webgpu' });
      } finally {
        store.close();
      }
      // a timestep sweep: one evaluation per timestep, each in a job process, its table saying where they ran
      const sweep = await runCli(['--db', db, ...evalArgs(), '--timesteps', '50,261', '--provider', 'webgpu']);
      expect(sweep.code, sweep.stderr).toBe(0);
      expect(sweep.stdout).toMatch(/PCK \(%\) per image against the timestep \(kernel soft-argmax\), provider webgpu$/m);
    });

    it('train --provider webgpu trains in a job process on WebGPU, says so and records it with the run and its cached tensors', async () => {
      const r = await runCli(['--db', db, ...trainArgs(), '--provider', 'webgpu']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/finished: .*provider webgpu/);
      const id = Number(/^run (\d+) finished/m.exec(r.stdout)![1]);
      const store = Store.open(db);
      try {
        const run = repos(store.db).runs.get(id)!;
        expect(run).toMatchObject({ status: 'completed', provider: 'webgpu' });
        expect(run.config).toMatchObject({ args: { provider: 'webgpu' } });
        const cached = store.db.prepare("SELECT DISTINCT provider FROM cache_entries WHERE kind IN ('moments', 'features')").all() as { provider: string }[];
        expect(cached.map((x) => x.provider)).toContain('webgpu');
      } finally {
        store.close();
      }
    });
  });
});

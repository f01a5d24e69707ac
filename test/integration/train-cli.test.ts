/**
 * `train` end to end through the CLI with the tiny fixture models on generated datasets: the loss
 * goes down, Class and CPM runs write prompts that `eval` uses, a killed run resumes bit-exactly,
 * and bad configurations fail before the first step.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/main/engine/io/safetensors.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { REPO, runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;
const dino = modelPath('dinov2');

const cli = (args: string[]) => runCli(['--db', db, ...args]);
const common = () => ['--model-dir', sd, '--dataset', 'shift', '--size', '128', '--batch', '3', '--val-pairs', '4'];

function runInfo(id: number) {
  const store = Store.open(db);
  try {
    const r = repos(store.db);
    return { run: r.runs.get(id)!, loss: r.runs.metricSeries(id, 'loss') };
  } finally {
    store.close();
  }
}

function runIdOf(stdout: string): number {
  const m = /^run (\d+) finished/m.exec(stdout);
  if (!m) throw new Error(`no run id in:\n${stdout}`);
  return Number(m[1]);
}

describe.skipIf(!HAVE_FIXTURES)('train through the CLI', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-train-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 16, 12, { size: 128, categories: ['cat', 'dog'] });
    const r = await cli(['import', '--format', 'spair', '--root', path.join(dir, 'shift'), '--name', 'shift', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('150 Single steps lower the mean loss of the last 20 steps by at least 10% against the first 20', async () => {
    const out = path.join(dir, 'single.safetensors');
    const r = await cli(['train', ...common(), '--prompt', 'single', '--steps', '150', '--val-every', '50', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const { run, loss } = runInfo(runIdOf(r.stdout));
    expect(run.status).toBe('completed');
    expect(run.provider).toBe('cpu');
    expect(loss).toHaveLength(150);
    const mean = (xs: { value: number }[]) => xs.reduce((a, b) => a + b.value, 0) / xs.length;
    const first = mean(loss.slice(0, 20));
    const last = mean(loss.slice(-20));
    expect(last).toBeLessThan(0.9 * first);
    expect(r.stdout).toMatch(/best validation PCK@0\.1 [\d.]+% at step \d+/);
    const ev = await cli(['eval', '--model-dir', sd, '--dataset', 'shift', '--split', 'val', '--size', '128', '--ensemble', '1', '--prompt', out]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/learned prompt .*single\.safetensors: 4 pairs/);
  });

  it('Class and CPM runs go end to end and write prompts that eval uses', async () => {
    for (const kind of ['class', 'cpm']) {
      const out = path.join(dir, `${kind}.safetensors`);
      const r = await cli(['train', ...common(), '--prompt', kind, '--steps', '6', '--val-every', '3', '--dino-dir', dino, '--out', out]);
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
      const file = readSafetensors(out);
      expect(file.metadata.kind).toBe(kind);
      if (kind === 'class') expect(Object.keys(file.tensors).sort()).toEqual(['token_embeds.cat', 'token_embeds.dog']);
      if (kind === 'cpm') expect(Object.keys(file.tensors)).toContain('linear_N_weight');
      const ev = await cli(['eval', '--model-dir', sd, '--dino-dir', dino, '--dataset', 'shift', '--split', 'val', '--size', '128', '--ensemble', '1', '--prompt', out]);
      expect(ev.code, `${kind} eval: ${ev.stderr}`).toBe(0);
    }
  });

  it('a run killed after step k and resumed ends with exactly the prompt of an uninterrupted run', async () => {
    const args = [...common(), '--prompt', 'single', '--steps', '14', '--val-every', '5', '--checkpoint-every', '1', '--schedule', 'cosine', '--seed', '3'];
    const whole = path.join(dir, 'whole.safetensors');
    const a = await cli(['train', ...args, '--out', whole]);
    expect(a.code, a.stderr).toBe(0);

    const killed = path.join(dir, 'killed.safetensors');
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), '--db', db, 'train', ...args, '--out', killed], { cwd: REPO });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code, signal) => res(signal ? -1 : code)));
    // wait until the run has checkpointed step 6, then kill it without warning
    let runId = 0;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 150));
      const store = Store.open(db);
      try {
        const latest = repos(store.db)
          .runs.list({ kind: 'train' })
          .sort((x, y) => y.id - x.id)[0];
        if (latest && latest.status === 'running' && latest.step >= 6 && latest.config && (latest.config as { args: { out?: string } }).args.out === killed) {
          runId = latest.id;
          break;
        }
      } finally {
        store.close();
      }
    }
    expect(runId, stderr).toBeGreaterThan(0);
    child.kill('SIGKILL');
    expect(await exited).toBe(-1);
    expect(fs.existsSync(killed)).toBe(false);
    // the run's job process outlives the killed CLI for a moment: it notices and exits on its own
    // (until then, resuming rightly says the run is still running in it)
    const pid = (() => {
      const store = Store.open(db);
      try {
        return repos(store.db).runs.get(runId)!.pid;
      } finally {
        store.close();
      }
    })();
    const alive = (p: number | null) => {
      if (!p) return false;
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    };
    const gone = Date.now() + 30_000;
    while (alive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid), `job process ${pid} of the killed CLI is still running`).toBe(false);

    const b = await cli(['train', '--resume', String(runId)]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/resumed at step \d+/);
    const x = readSafetensors(whole).tensors;
    const y = readSafetensors(killed).tensors;
    expect(Object.keys(y)).toEqual(Object.keys(x));
    for (const k of Object.keys(x)) expect(Buffer.from(y[k].data.buffer).equals(Buffer.from(x[k].data.buffer)), k).toBe(true);
    const { run, loss } = runInfo(runId);
    expect(run.status).toBe('completed');
    expect(loss.map((l) => l.step)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });

  describe('bad configuration fails before the first step', () => {
    it('an unknown category for a Class run', async () => {
      const r = await cli(['train', ...common(), '--prompt', 'class', '--category', 'zebra', '--steps', '5']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/error: dataset 'shift' has no category 'zebra' \(it has: cat, dog\)/);
    });

    it('a batch larger than the dataset', async () => {
      const r = await cli(['train', '--model-dir', sd, '--dataset', 'shift', '--size', '128', '--batch', '40', '--steps', '5']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/error: batch 40 is larger than the 12 training pairs of shift/);
    });

    it('a model without a text encoder', async () => {
      const broken = path.join(dir, 'no-text');
      fs.cpSync(sd, broken, { recursive: true });
      fs.rmSync(path.join(broken, 'text_encoder'), { recursive: true, force: true });
      const r = await cli(['train', '--model-dir', broken, '--dataset', 'shift', '--size', '128', '--batch', '3', '--steps', '5']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/text_encoder\/model\.onnx is missing/);
      expect(r.stderr).not.toMatch(/training \d+\/5/);
    });
  });
});

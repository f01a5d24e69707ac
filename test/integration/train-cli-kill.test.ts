/**
 * `train` through the CLI when the job process it supervises is killed the way the kernel kills
 * one that ran out of memory (SIGKILL, no message): the command does not vanish with it, but
 * exits non-zero naming the run, its checkpoint and the command that resumes it; the run is
 * marked failed with the reason, and resuming it continues from that checkpoint.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { REPO, runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;

const cli = (args: string[]) => runCli(['--db', db, ...args]);

function withRepos<T>(f: (r: ReturnType<typeof repos>) => T): T {
  const store = Store.open(db);
  try {
    return f(repos(store.db));
  } finally {
    store.close();
  }
}

describe.skipIf(!HAVE_FIXTURES)('train through the CLI when its job process is killed', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-train-kill-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 12, 8, { size: 128 });
    const r = await cli(['import', '--format', 'spair', '--root', path.join(dir, 'shift'), '--name', 'shift', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits non-zero naming the run and how to resume it; the resumed run continues from the checkpoint', async () => {
    const args = ['train', '--model-dir', sd, '--dataset', 'shift', '--size', '128', '--batch', '2', '--steps', '24', '--val-every', '0', '--checkpoint-every', '2'];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), '--db', db, ...args], { cwd: REPO });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));

    // once the run has checkpointed past step 2, kill the process running it, not the CLI
    let victim: { id: number; pid: number } | null = null;
    const deadline = Date.now() + 90_000;
    while (!victim && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      victim = withRepos((r) => {
        const run = r.runs.list({ kind: 'train', status: 'running' })[0];
        return run && run.pid !== null && r.runs.checkpoints(run.id).some((c) => c.step >= 4) ? { id: run.id, pid: run.pid } : null;
      });
    }
    expect(victim, stderr).not.toBeNull();
    const { id, pid } = victim!;
    expect(pid).not.toBe(child.pid);
    process.kill(pid, 'SIGKILL');

    const { code, signal } = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(1);
    const m = new RegExp(
      `^error: the training process was killed by the operating system \\(SIGKILL\\), most likely because it ran out of memory; run ${id} is marked failed and can be resumed from its checkpoint at step (\\d+) \\(resume it with: sd4match train --resume ${id}\\)$`,
      'm',
    ).exec(stderr);
    expect(m, stderr).not.toBeNull();
    const step = Number(m![1]);
    expect(step).toBeGreaterThanOrEqual(4);
    expect(stderr).not.toMatch(/\n\s+at /);

    const run = withRepos((r) => r.runs.get(id)!);
    expect(run.status).toBe('failed');
    expect(run.failureReason).toMatch(/killed by the operating system \(SIGKILL\)/);

    const b = await cli(['train', '--resume', String(id)]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain(`run ${id}: single prompt, 24 steps of 2 pairs at 128px, provider cpu, resumed at step ${step}`);
    expect(b.stdout).toMatch(new RegExp(`^run ${id} finished: 24 steps`, 'm'));
    const after = withRepos((r) => ({ run: r.runs.get(id)!, loss: r.runs.metricSeries(id, 'loss') }));
    expect(after.run.status).toBe('completed');
    expect(after.loss.map((l) => l.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });
});

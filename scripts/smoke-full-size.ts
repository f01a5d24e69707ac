/**
 * A smoke run of the user commands on a full-size model (e.g. SD 2-1 from ../shared/full-size):
 * writes a small SPair-format dataset of textured images and shifted copies at the model's size,
 * imports it, then runs `eval` with the paper's settings and a few `train` steps through the CLI,
 * printing each command's wall time and the peak memory of its process tree (the CLI and the job
 * process it supervises): RSS summed over processes, and PSS (physical memory).
 *
 *   npx tsx scripts/smoke-full-size.ts --model-dir /tmp/full/sd21 [--size 768] [--ensemble 8] [--steps 3] [--keep DIR]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeShiftedSpair } from '../test/helpers/shifted-pairs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, def?: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};

/** Pids of a process and its descendants (Linux /proc). */
function tree(pid: number): number[] {
  const out = [pid];
  for (let k = 0; k < out.length; k++) {
    try {
      for (const t of fs.readdirSync(`/proc/${out[k]}/task`)) {
        const kids = fs.readFileSync(`/proc/${out[k]}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // gone
    }
  }
  return out;
}

function memoryOf(pids: number[]): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      const s = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return { rss, pss };
}

async function cli(args: string[]): Promise<{ seconds: number; rss: number; pss: number; code: number | null }> {
  const t0 = Date.now();
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main/cli.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  let rss = 0;
  let pss = 0;
  const timer = setInterval(() => {
    const m = memoryOf(tree(p.pid!));
    rss = Math.max(rss, m.rss);
    pss = Math.max(pss, m.pss);
  }, 1000);
  const code = await new Promise<number | null>((r) => p.on('close', r));
  clearInterval(timer);
  return { seconds: (Date.now() - t0) / 1000, rss, pss, code };
}

async function main(): Promise<void> {
  const modelDir = arg('--model-dir');
  if (!modelDir) throw new Error('usage: npx tsx scripts/smoke-full-size.ts --model-dir DIR [--size 768] [--ensemble 8] [--steps 3] [--keep DIR]');
  const size = Number(arg('--size', '768'));
  const ensemble = arg('--ensemble', '8')!;
  const steps = arg('--steps', '3')!;
  const work = arg('--keep') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-smoke-'));
  fs.mkdirSync(work, { recursive: true });
  const db = path.join(work, 'smoke.db');
  try {
    if (!fs.existsSync(db)) {
      await writeShiftedSpair(path.join(work, 'data'), 6, 4, { size, points: 10, categories: ['cat'] });
      const r = await cli(['--db', db, 'import', '--format', 'spair', '--root', path.join(work, 'data'), '--name', 'smoke', '--quiet']);
      if (r.code !== 0) throw new Error('import failed');
    }
    const rows: [string, Awaited<ReturnType<typeof cli>>][] = [];
    rows.push([
      `eval --size ${size} --ensemble ${ensemble} (2 val pairs)`,
      await cli(['--db', db, 'eval', '--model-dir', modelDir, '--dataset', 'smoke', '--split', 'val', '--size', String(size), '--ensemble', ensemble]),
    ]);
    rows.push([
      `train --size ${size} --batch 1 --steps ${steps}`,
      await cli([
        '--db',
        db,
        'train',
        '--model-dir',
        modelDir,
        '--dataset',
        'smoke',
        '--prompt',
        'single',
        '--size',
        String(size),
        '--batch',
        '1',
        '--steps',
        steps,
        '--val-every',
        steps,
        '--val-pairs',
        '1',
        '--checkpoint-every',
        steps,
      ]),
    ]);
    process.stdout.write('\nsmoke run (peak memory of the CLI and its job process together)\n');
    for (const [what, r] of rows) {
      process.stdout.write(
        `${what.padEnd(48)} ${r.code === 0 ? 'ok    ' : `FAILED (${r.code})`} ${r.seconds.toFixed(0).padStart(6)} s   peak RSS ${(r.rss / 1e9).toFixed(2)} GB   peak PSS ${(r.pss / 1e9).toFixed(2)} GB\n`,
      );
    }
    if (rows.some(([, r]) => r.code !== 0)) process.exitCode = 1;
  } finally {
    if (!arg('--keep')) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`smoke run failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

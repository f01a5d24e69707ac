/**
 * Where a training step or a feature pass spends its time, by op type: the work runs as `scale`
 * runs it (a process of its own, bench/scale.ts's probe) with ONNX Runtime's profiler on
 * (SD4MATCH_ORT_PROFILE, runtime.ts), and the profile of the session that took longest is read
 * back: per op type, the kernel time of the last run, its share, node count and, for MatMul, Gemm,
 * Conv and MultiHeadAttention, the rate from the shapes the profiler records.
 *
 *   npm run bench -- profile --model-dir /tmp/full/sd21 [--work train|features] [--size 768] [--steps 1]
 *   npm run bench -- profile --from <folder of ORT profile JSON files>
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probe } from '../test/helpers/memory-probe.js';
import { benchModel, flag, printTable } from './table.js';

export const description = 'ONNX Runtime profile of a training step or feature pass by op type: time, share, nodes, GFLOP/s';

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}

export interface OpTypeRow {
  opType: string;
  ms: number;
  nodes: number;
  gflop: number;
}

const shapes = (list: Record<string, number[]>[] | undefined): number[][] => (list ?? []).map((o) => Object.values(o)[0] ?? []);
const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);

/** Floating-point operations of one kernel from its recorded shapes (0 where not modelled). */
export function kernelFlops(opType: string, inputs: number[][], outputs: number[][]): number {
  const out = outputs[0];
  if (!out) return 0;
  // A [.., M, K] or, transposed (FusedMatMul's transA), [.., K, M]: K = |A| · N / |C| when A is not broadcast
  if (opType === 'MatMul' || opType === 'FusedMatMul') return inputs[0] ? 2 * prod(inputs[0]) * out.at(-1)! : 0;
  // Gemm's A is [M, K] or its transpose; the output [M, N]
  if (opType === 'Gemm') return inputs[0] ? 2 * prod(out) * (prod(inputs[0]) / out[0]) : 0;
  if (opType === 'Conv' || opType === 'FusedConv') {
    const w = inputs[1];
    return w ? 2 * prod(out) * prod(w.slice(1)) : 0;
  }
  if (opType === 'MultiHeadAttention') {
    const [q, k] = inputs;
    if (!q || !k) return 0;
    // QK^T and PV: 2 GEMMs of S x T x (hidden)
    return 4 * q[0] * q[1] * k[1] * q[2];
  }
  return 0;
}

/** The per-op-type table of the last run in one ORT profile file. */
export function summarizeProfile(events: ProfileEvent[]): { runMs: number; rows: OpTypeRow[]; providers: Record<string, number> } {
  const runs = events.filter((e) => e.name === 'model_run');
  const last = runs.at(-1);
  const inRun = (e: ProfileEvent) => !last || (e.ts >= last.ts && e.ts <= last.ts + last.dur);
  const byOp = new Map<string, OpTypeRow>();
  const providers: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inRun(e)) continue;
    const op = e.args?.op_name ?? '?';
    const row = byOp.get(op) ?? { opType: op, ms: 0, nodes: 0, gflop: 0 };
    row.ms += e.dur / 1000;
    row.nodes += 1;
    row.gflop += kernelFlops(op, shapes(e.args?.input_type_shape), shapes(e.args?.output_type_shape)) / 1e9;
    byOp.set(op, row);
    const p = e.args?.provider ?? '?';
    providers[p] = (providers[p] ?? 0) + 1;
  }
  return { runMs: last ? last.dur / 1000 : 0, rows: [...byOp.values()].sort((a, b) => b.ms - a.ms), providers };
}

function printProfile(file: string): void {
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as ProfileEvent[];
  const { runMs, rows, providers } = summarizeProfile(events);
  const total = rows.reduce((s, r) => s + r.ms, 0);
  printTable(
    `${path.basename(file)}: last run ${(runMs / 1000).toFixed(2)} s, kernels ${(total / 1000).toFixed(2)} s, nodes by provider ${JSON.stringify(providers)}`,
    ['op type', 'nodes', 's', 'share', 'GFLOP', 'GFLOP/s'],
    rows.map((r) => [
      r.opType,
      r.nodes,
      (r.ms / 1000).toFixed(2),
      `${((100 * r.ms) / Math.max(total, 1e-9)).toFixed(1)}%`,
      r.gflop ? r.gflop.toFixed(0) : '',
      r.gflop ? (r.gflop / (r.ms / 1000)).toFixed(1) : '',
    ]),
  );
}

export async function run(args: string[]): Promise<void> {
  const from = flag(args, '--from');
  let dir = from;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bench-profile-'));
  try {
    if (!dir) {
      const { modelDir, tiny } = await benchModel(args, work);
      dir = path.join(work, 'profile');
      const kind = (flag(args, '--work') ?? 'train') as 'train' | 'features';
      const size = Number(flag(args, '--size') ?? (tiny ? 64 : 768));
      process.env.SD4MATCH_ORT_PROFILE = dir;
      process.stderr.write(`profile: ${kind} at ${size} px with ONNX Runtime's profiler...\n`);
      const r = await probe({ kind, size, n: 1, modelDir, cacheDir: flag(args, '--cache-dir') ?? path.join(work, 'cache'), work, steps: Number(flag(args, '--steps') ?? 1) });
      delete process.env.SD4MATCH_ORT_PROFILE;
      process.stdout.write(`${kind} ${size} px: ${r.seconds?.toFixed(1)} s per step (profiled), peak RSS ${r.peakRssGb?.toFixed(2)} GB\n`);
    }
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => path.join(dir!, f));
    if (files.length === 0) throw new Error(`no ONNX Runtime profile (*.json) in ${dir}`);
    // the session that ran longest first; the rest in one line each
    const totals = files.map((f) => ({ f, ms: summarizeProfile(JSON.parse(fs.readFileSync(f, 'utf8')) as ProfileEvent[]).runMs })).sort((a, b) => b.ms - a.ms);
    printProfile(totals[0].f);
    for (const t of totals.slice(1)) process.stdout.write(`${path.basename(t.f)}: last run ${(t.ms / 1000).toFixed(2)} s\n`);
    if (flag(args, '--keep')) fs.cpSync(dir, flag(args, '--keep')!, { recursive: true });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * One large attention core on the CPU, in each form the workstation emits (onnx/attention.ts):
 * the forward fused (com.microsoft.MultiHeadAttention) and blocked (standard ops per query block),
 * and the backward that recomputes each block's probabilities, for several block counts. Time
 * (best of 3 after a warm-up run), rate and peak RSS, each form in its own process.
 *
 *   npm run bench -- attention [--tokens 9216] [--heads 5] [--head-size 64] [--blocks 4,8,16]
 * (at most MAX_QUERY_BLOCKS blocks: fewer rows per block than S / 16 are not emitted)
 *
 * SD 2-1 at 768 px: down_blocks.0's self-attention, 9216 tokens, 5 heads of 64.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AttentionCore, emitBlockedAttention, emitBlockedAttentionGrad, emitFusedAttention, MAX_QUERY_BLOCKS, queryBlocks } from '../src/main/engine/onnx/attention.js';
import { ModelBuilder } from '../src/main/engine/onnx/builder.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { createSession } from '../src/main/engine/onnx/runtime.js';
import { flag, printTable } from './table.js';

export const description = 'one large attention core on the CPU: fused and blocked forward, recomputing backward per block count (s, GFLOP/s, peak RSS)';

const ENTRY = fileURLToPath(import.meta.url);

interface Config {
  form: 'fused' | 'blocked' | 'backward';
  S: number;
  heads: number;
  d: number;
  blocks: number;
}

interface Result extends Config {
  /** Query rows per block as emitted. */
  rows: number;
  seconds: number;
  gflops: number;
  peakRssGb: number;
  nodes: number;
}

/** Builds and times one form in this process (the child's side). */
async function measure(c: Config): Promise<Result> {
  const { S, heads: H, d } = c;
  const m = new ModelBuilder('attention', 17);
  const a = m.input('a', 'float32', [1, H, S, d]);
  const b = m.input('b', 'float32', [1, H, d, S]);
  const v = m.input('v', 'float32', [1, H, S, d]);
  const o = m.input('o', 'float32', [1, H, S, d]);
  const dO = m.input('dO', 'float32', [1, H, S, d]);
  const core: AttentionCore = { nodes: [], a, b, v, out: o, scale: 1 / Math.sqrt(d), lead: [1, H], S, T: S, d, dv: d, dtype: 'float32' };
  // a budget that gives `blocks` query blocks: 3 live [rows, T] tensors per block in the backward, 2 forward
  const want = Math.ceil(S / c.blocks);
  const live = c.form === 'backward' ? 3 : 2;
  const budget = live * H * want * S * 4;
  const rows = c.form === 'fused' ? S : queryBlocks(core, live, budget)[0];
  if (c.form === 'fused') m.output('y', emitFusedAttention(m, core));
  else if (c.form === 'blocked') m.output('y', emitBlockedAttention(m, core, budget));
  else {
    const g = emitBlockedAttentionGrad(m, core, dO, { a: true, b: true, v: true }, budget);
    m.output('da', g.a!);
    m.output('db', g.b!);
    m.output('dv', g.v!);
  }
  const model = m.build();
  const session = await createSession(encodeModel(model), { providers: ['cpu'] });
  const feed = (dims: number[], seed: number) => ({ dtype: 'float32' as const, dims, data: Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * 0.7 + seed) * 0.5) });
  const feeds = Object.fromEntries(
    Object.entries({ a: [1, H, S, d], b: [1, H, d, S], v: [1, H, S, d], o: [1, H, S, d], dO: [1, H, S, d] })
      .filter(([k]) => session.inputNames.includes(k))
      .map(([k, dims], i) => [k, feed(dims, i)]),
  );
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  await session.dispose();
  const seconds = Math.min(...times);
  // forward: S·T·d twice (scores, output); backward: five such products (scores again, dP, dB, dV, dA)
  const flops = (c.form === 'backward' ? 10 : 4) * H * S * S * d;
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  return { ...c, rows, seconds, gflops: flops / seconds / 1e9, peakRssGb: peak / 1e9, nodes: model.graph.nodes.length };
}

function inChild(c: Config): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify(c)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`attention bench: ${c.form} ended with ${code} and no result`));
      resolve(JSON.parse(line.slice(7)) as Result);
    });
  });
}

export async function run(args: string[]): Promise<void> {
  const S = Number(flag(args, '--tokens') ?? 9216);
  const heads = Number(flag(args, '--heads') ?? 5);
  const d = Number(flag(args, '--head-size') ?? 64);
  const blockCounts = (flag(args, '--blocks') ?? `4,8,${MAX_QUERY_BLOCKS}`).split(',').map(Number);
  const configs: Config[] = [
    { form: 'fused', S, heads, d, blocks: 1 },
    { form: 'blocked', S, heads, d, blocks: 16 },
    ...blockCounts.map((blocks) => ({ form: 'backward' as const, S, heads, d, blocks })),
  ];
  const rows: (string | number)[][] = [];
  for (const c of configs) {
    process.stderr.write(`attention: ${c.form}, ${c.blocks} block(s)...\n`);
    const r = await inChild(c);
    rows.push([
      r.form === 'backward' ? 'backward (recomputed per block)' : `forward, ${r.form}`,
      r.form === 'fused' ? '-' : r.rows,
      r.nodes,
      r.seconds.toFixed(2),
      r.gflops.toFixed(0),
      r.peakRssGb.toFixed(2),
    ]);
  }
  printTable(`attention core: ${S} tokens, ${heads} heads of ${d}, CPU, best of 3`, ['form', 'query rows per block', 'nodes', 's', 'GFLOP/s', 'peak RSS GB'], rows);
}

// run as a script: measure the configuration given as JSON and print the result line
if (process.argv[1] && path.resolve(process.argv[1]) === ENTRY) {
  measure(JSON.parse(process.argv[2]) as Config)
    .then((r) => process.stdout.write(`RESULT ${JSON.stringify(r)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`attention bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
}

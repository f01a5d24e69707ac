/**
 * Comparing with PyTorch like with like. `pytorch-reference.json` (a copy of
 * ../shared/full-size/pytorch-reference.json, which wins when present) holds PyTorch's time and
 * memory for the same work with ONNX Runtime's SGEMM rate on the machine it was measured on. A
 * bench measures the SGEMM rate here the same way (4096 x 4096 x 4096 MatMul, fp32, the bench's
 * thread count, best of 5 after a warm-up) and reports each ratio raw and scaled by the two rates:
 * PyTorch's time here ≈ its time there × (rate there / rate here).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelBuilder } from '../src/main/engine/onnx/builder.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { createSession } from '../src/main/engine/onnx/runtime.js';
import { flag } from './table.js';

export interface PytorchWork {
  s: number;
  peak_gb?: number;
  note?: string;
}

export interface PytorchReference {
  file: string;
  machine: string;
  sgemmGflops: number;
  work: Record<string, PytorchWork>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The reference: `--pytorch-reference FILE`, else ../shared/full-size's, else the copy beside this file. */
export function loadPytorchReference(args: string[]): PytorchReference {
  const candidates = [flag(args, '--pytorch-reference'), path.resolve(HERE, '../../shared/full-size/pytorch-reference.json'), path.join(HERE, 'pytorch-reference.json')].filter(
    (f): f is string => !!f,
  );
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no PyTorch reference found (looked at ${candidates.join(', ')})`);
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { machine: string; sgemm_gflops: number; work: Record<string, PytorchWork> };
  if (!(j.sgemm_gflops > 0) || typeof j.work !== 'object') throw new Error(`${file}: expected sgemm_gflops and work`);
  return { file, machine: j.machine, sgemmGflops: j.sgemm_gflops, work: j.work };
}

/** ONNX Runtime's fp32 SGEMM rate here: 4096³ MatMul, `threads` intra-op threads, best of 5 after a warm-up, in GFLOP/s. */
export async function measureSgemm(threads: number = os.cpus().length, n = 4096): Promise<number> {
  const m = new ModelBuilder('sgemm', 17);
  const a = m.input('a', 'float32', [n, n]);
  const b = m.input('b', 'float32', [n, n]);
  m.output('c', m.op1('MatMul', [a, b]));
  const session = await createSession(encodeModel(m.build()), { providers: ['cpu'], intraOpThreads: threads });
  try {
    const fill = () => {
      const x = new Float32Array(n * n);
      for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
      return x;
    };
    const feeds = { a: { dtype: 'float32' as const, dims: [n, n], data: fill() }, b: { dtype: 'float32' as const, dims: [n, n], data: fill() } };
    await session.run(feeds, ['c']);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await session.run(feeds, ['c']);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    return (2 * n ** 3) / best / 1e9;
  } finally {
    await session.dispose();
  }
}

/** Our time against PyTorch's: the raw ratio and the ratio to PyTorch's time scaled to this machine's SGEMM rate. */
export function timeRatios(ours: number, ref: PytorchWork | undefined, pytorch: PytorchReference, sgemmHere: number): { raw: string; scaled: string; pytorchHere: string } {
  if (!ref) return { raw: '-', scaled: '-', pytorchHere: '-' };
  const here = ref.s * (pytorch.sgemmGflops / sgemmHere);
  return { raw: `${(ours / ref.s).toFixed(2)}x`, scaled: `${(ours / here).toFixed(2)}x`, pytorchHere: `${here.toFixed(1)} s` };
}

/** The line every comparing bench prints under its table. */
export function rateLine(pytorch: PytorchReference, sgemmHere: number, threads: number): string {
  return `SGEMM 4096³ fp32, ${threads} threads, best of 5: ${sgemmHere.toFixed(1)} GFLOP/s here, ${pytorch.sgemmGflops} GFLOP/s where PyTorch was measured (${pytorch.machine}; ${path.relative(process.cwd(), pytorch.file)}). "scaled" compares with PyTorch's time × ${pytorch.sgemmGflops}/${sgemmHere.toFixed(1)}.`;
}

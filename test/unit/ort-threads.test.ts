/**
 * ONNX Runtime's worker threads must not spin after a run (runtime.ts `spinning()`): with several
 * sessions taking turns and the UI on the same cores, a spinning pool burns a core for tens of
 * milliseconds after every run. Measured as the CPU time this process uses while it sits idle
 * right after a run (with spinning on, about 50 ms per 300 ms on the 2-core CI machine).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ModelBuilder } from '../../src/main/engine/onnx/builder.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';

const D = 384;

/** Eight chained 384 x 384 matrix products: big enough for ORT to use its intra-op threads. */
function chain() {
  const m = new ModelBuilder('chain');
  let x = m.input('x', 'float32', [D, D]);
  const w = m.floats(
    Array.from({ length: D * D }, (_, i) => ((i * 7919) % 13) / 13 - 0.5),
    [D, D],
  );
  for (let i = 0; i < 8; i++) x = m.op1('Tanh', [m.op1('MatMul', [x, w])]);
  m.output('y', x);
  return m.build();
}

async function idleCpuMsAfterRuns(): Promise<number> {
  const session = await createModelSession(chain(), { providers: ['cpu'] });
  const x: HostTensor = { dtype: 'float32', dims: [D, D], data: new Float32Array(D * D).fill(0.01) };
  for (let i = 0; i < 5; i++) await session.run({ x });
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 300));
  const used = process.cpuUsage(before);
  await session.dispose();
  return (used.user + used.system) / 1000;
}

describe('ONNX Runtime threads', () => {
  afterEach(() => {
    delete process.env.SD4MATCH_ORT_SPIN;
  });

  it('sleep after a run instead of spinning (SD4MATCH_ORT_SPIN=1 turns spinning back on)', async () => {
    const quiet = await idleCpuMsAfterRuns();
    process.env.SD4MATCH_ORT_SPIN = '1';
    const spinning = await idleCpuMsAfterRuns();
    console.log(`CPU time in the 300 ms after a run: ${quiet.toFixed(1)} ms without spinning, ${spinning.toFixed(1)} ms with`);
    expect(quiet).toBeLessThan(20);
  });
});

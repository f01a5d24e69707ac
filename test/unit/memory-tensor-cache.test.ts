/**
 * The in-memory layer over the disk tensor cache (engine/cache/memory-tensor-cache.ts): it keeps
 * the most recently used tensors within its byte budget, reads through to the disk cache, writes
 * through to it, and counts what it had to compute per kind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryTensorCache } from '../../src/main/engine/cache/memory-tensor-cache.js';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function disk(): TensorCache {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-memcache-'));
  dirs.push(d);
  return new TensorCache(d);
}

/** A float32 tensor of `n` values all equal to `v` (4n bytes). */
const tensor = (n: number, v: number): HostTensor => ({ dtype: 'float32', dims: [n], data: new Float32Array(n).fill(v) });

describe('MemoryTensorCache', () => {
  it('keeps the most recently used tensors within its budget; the rest are read back from disk', async () => {
    const d = disk();
    // room for two 100-value tensors (400 bytes each)
    const m = new MemoryTensorCache(d, 800);
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
    ] as const)
      await m.getOrCompute('features', k, async () => tensor(100, v));
    expect(m.bytesHeld).toBe(800);
    // 'a' used last: 'b' leaves when 'c' comes
    expect(m.get('features', 'a')!.data[0]).toBe(1);
    await m.getOrCompute('features', 'c', async () => tensor(100, 3));
    expect(m.bytesHeld).toBe(800);
    const diskReads = d.hits;
    expect(m.get('features', 'a')!.data[0]).toBe(1);
    expect(m.get('features', 'c')!.data[0]).toBe(3);
    expect(d.hits).toBe(diskReads);
    // 'b' comes from disk (written through), and is held again
    expect(m.get('features', 'b')!.data[0]).toBe(2);
    expect(d.hits).toBe(diskReads + 1);
    expect(m.computed).toEqual({ features: 3 });
    expect(m.largest.features).toBe(400);
  });

  it('counts only computations: a cached tensor (in memory or on disk) is not computed again', async () => {
    const d = disk();
    d.put('moments', 'x', tensor(10, 7));
    const m = new MemoryTensorCache(d, 1 << 20);
    let calls = 0;
    const compute = async () => {
      calls++;
      return tensor(10, 9);
    };
    expect((await m.getOrCompute('moments', 'x', compute)).data[0]).toBe(7);
    expect((await m.getOrCompute('moments', 'y', compute)).data[0]).toBe(9);
    expect((await m.getOrCompute('moments', 'y', compute)).data[0]).toBe(9);
    expect(calls).toBe(1);
    expect(m.computed).toEqual({ moments: 1 });
    // a tensor larger than the whole budget is stored on disk only
    const small = new MemoryTensorCache(d, 16);
    await small.getOrCompute('features', 'big', async () => tensor(100, 1));
    expect(small.bytesHeld).toBe(0);
    expect(d.get('features', 'big')).not.toBeNull();
  });
});

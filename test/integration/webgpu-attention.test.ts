/**
 * Fused attention on a real WebGPU adapter (a GPU, or Mesa's lavapipe): com.microsoft.MultiHeadAttention
 * as attention.ts emits it, and the forms attention-webgpu.ts offers, against a float64 reference
 * and the CPU provider over a sweep of shapes (query rows S either side of ONNX Runtime's
 * split-reduce threshold 32, key counts T either side of one key tile of 8, head sizes 6 / 8 / 40 / 64,
 * batch 1 and 2, cross- and self-attention).
 *
 * Tolerance: relative L2 error 1e-5 against the float64 reference, for every provider and form.
 * float32 attention at these sizes is off the float64 result by ~1e-7 (the CPU's flash kernel:
 * ≤ 4e-7 here; WebGPU's kernels sum in another order, the same size); the drift of ONNX Runtime
 * 1.30's WebGPU prefill kernel (attention-webgpu.ts) is 1e-3..1e-1 on these inputs (unit-normal
 * queries and keys, scale 1/√d: attention neither flat nor one-hot), so 1e-5 separates the two by
 * two orders of magnitude either way.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type AttentionCore, Emitter, emitBlockedAttention, emitFusedAttention } from '../../src/main/engine/onnx/attention.js';
import { fusedAttentionIsExact, WEBGPU_EXACT_QUERY_BLOCK, webgpuRunsPrefillKernel } from '../../src/main/engine/onnx/attention-webgpu.js';
import { ModelBuilder } from '../../src/main/engine/onnx/builder.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { Rng } from '../helpers/random.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const noWebgpu = await webgpuUnavailable();

const TOL = 1e-5;

interface Shape {
  B: number;
  H: number;
  S: number;
  T: number;
  d: number;
}

/** The sweep: [what it exercises, shape]. */
const SHAPES: [string, Shape][] = [
  ['self-attention, 2 heads x 8, 64 rows', { B: 1, H: 2, S: 64, T: 64, d: 8 }],
  ['cross-attention to 77 keys, 2 heads x 8', { B: 1, H: 2, S: 64, T: 77, d: 8 }],
  ['32 rows: the smallest that takes the prefill kernel', { B: 1, H: 2, S: 32, T: 32, d: 8 }],
  ['31 rows: split-reduce kernels', { B: 1, H: 5, S: 31, T: 77, d: 64 }],
  ['16 rows, 64 keys', { B: 1, H: 2, S: 16, T: 64, d: 8 }],
  ['8 keys: one key tile', { B: 1, H: 2, S: 64, T: 8, d: 8 }],
  ['9 keys: two key tiles', { B: 1, H: 5, S: 32, T: 9, d: 64 }],
  ['2 heads x 64 (SD head size)', { B: 1, H: 2, S: 64, T: 64, d: 64 }],
  ['batch 2 (classifier-free guidance)', { B: 2, H: 2, S: 64, T: 64, d: 8 }],
  ['head size 40', { B: 1, H: 2, S: 96, T: 96, d: 40 }],
  ['head size 6 (not a multiple of 4: unfused kernel)', { B: 1, H: 1, S: 64, T: 64, d: 6 }],
  ['5 heads x 64, 256 rows (SD 2-1 self-attention, scaled down)', { B: 1, H: 5, S: 256, T: 256, d: 64 }],
  ['5 heads x 64, 256 rows to 77 keys (SD 2-1 cross-attention, scaled down)', { B: 1, H: 5, S: 256, T: 77, d: 64 }],
];

interface Case {
  shape: Shape;
  scale: number;
  feeds: Record<string, HostTensor>;
  reference: Float64Array;
}

/** Queries A [B, H, S, d], keys already transposed B [B, H, d, T], values V [B, H, T, d]: unit normal, scale 1/√d. */
function makeCase(shape: Shape, seed: number): Case {
  const { B, H, S, T, d } = shape;
  const rng = new Rng(seed);
  const draw = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const a = draw(B * H * S * d);
  const bt = draw(B * H * d * T);
  const v = draw(B * H * T * d);
  const scale = 1 / Math.sqrt(d);
  const reference = new Float64Array(B * H * S * d);
  const logits = new Float64Array(T);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < S; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += a[(bh * S + i) * d + c] * bt[(bh * d + c) * T + j];
        logits[j] = s * scale;
        max = Math.max(max, logits[j]);
      }
      let z = 0;
      for (let j = 0; j < T; j++) z += logits[j] = Math.exp(logits[j] - max);
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < T; j++) s += logits[j] * v[(bh * T + j) * d + c];
        reference[(bh * S + i) * d + c] = s / z;
      }
    }
  }
  const t = (dims: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', dims, data });
  return { shape, scale, reference, feeds: { a: t([B, H, S, d], a), b: t([B, H, d, T], bt), v: t([B, H, T, d], v) } };
}

type Form = 'fused' | 'exact-fused' | 'predicate';

/**
 * The core in one of the forms: 'fused' (attention.ts's one MultiHeadAttention call), 'exact-fused'
 * (calls of at most 31 query rows: WEBGPU_EXACT_QUERY_BLOCK), 'predicate' (the fused call where
 * fusedAttentionIsExact says so for WebGPU, else attention.ts's blocked standard ops).
 */
function model(c: Case, form: Form) {
  const { B, H, S, T, d } = c.shape;
  const m = new ModelBuilder(`attention_${form}`, 17);
  const a = m.input('a', 'float32', [B, H, S, d]);
  const b = m.input('b', 'float32', [B, H, d, T]);
  const v = m.input('v', 'float32', [B, H, T, d]);
  const core: AttentionCore = { nodes: [], a, b, v, out: 'o', scale: c.scale, lead: [B, H], S, T, d, dv: d, dtype: 'float32' };
  const e = new Emitter(m.b, `${m.prefix}/${form}`);
  const o =
    form === 'exact-fused'
      ? emitFusedAttention(e, core, WEBGPU_EXACT_QUERY_BLOCK)
      : form === 'fused' || fusedAttentionIsExact('webgpu', { S, T, d, dv: d })
        ? emitFusedAttention(e, core)
        : emitBlockedAttention(e, core, 256 * 2 ** 20);
  m.output('o', o);
  return m.build();
}

function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let n = 0;
  let dd = 0;
  for (let i = 0; i < want.length; i++) {
    n += (got[i] - want[i]) ** 2;
    dd += want[i] ** 2;
  }
  return Math.sqrt(n / dd);
}

async function run(c: Case, form: Form, provider: 'cpu' | 'webgpu'): Promise<Float32Array> {
  const s = await createModelSession(model(c, form), { providers: [provider] });
  try {
    return (await s.run(c.feeds, ['o'])).o.data as Float32Array;
  } finally {
    await s.dispose();
  }
}

const label = (s: Shape) => `B ${s.B} S ${s.S} T ${s.T} heads ${s.H} d ${s.d}`;

describe.skipIf(noWebgpu !== null)('fused attention on WebGPU', () => {
  const cases = new Map<string, Case>();
  beforeAll(() => {
    SHAPES.forEach(([, shape], i) => cases.set(label(shape), makeCase(shape, 100 + i)));
  });

  it('the CPU computes the fused form within the tolerance (the baseline WebGPU must meet)', async () => {
    for (const [, shape] of SHAPES) {
      const c = cases.get(label(shape))!;
      expect(relL2(await run(c, 'fused', 'cpu'), c.reference), label(shape)).toBeLessThan(TOL);
    }
  }, 120_000);

  // One MultiHeadAttention call per core (attention.ts's fused form as it is): exact on WebGPU
  // exactly where fusedAttentionIsExact says so; where it says not, ONNX Runtime 1.30's prefill
  // kernel drifts on this adapter. When an ONNX Runtime update makes the second expectation fail,
  // the drift is gone and the predicate can be relaxed.
  it('one MultiHeadAttention call drifts on WebGPU exactly where fusedAttentionIsExact says it is inexact', async () => {
    const seen: string[] = [];
    for (const [, shape] of SHAPES) {
      const c = cases.get(label(shape))!;
      const err = relL2(await run(c, 'fused', 'webgpu'), c.reference);
      const exact = fusedAttentionIsExact('webgpu', { S: shape.S, T: shape.T, d: shape.d, dv: shape.d });
      seen.push(
        `${label(shape)}: ${err.toExponential(2)} (${exact ? 'exact' : 'inexact'} by the predicate${webgpuRunsPrefillKernel({ S: shape.S, T: shape.T, d: shape.d, dv: shape.d }) ? ', prefill kernel' : ''})`,
      );
      if (exact) expect(err, label(shape)).toBeLessThan(TOL);
      else expect(err, `${label(shape)}: no drift any more; relax fusedAttentionIsExact`).toBeGreaterThan(1e-4);
    }
    console.log(`MultiHeadAttention on WebGPU vs float64:\n  ${seen.join('\n  ')}`);
  }, 300_000);

  // The exact-fused form on a part of the sweep: lavapipe compiles the split-reduce kernels for
  // every query-block size and head count anew (tens of seconds each).
  const SUBSET = new Set([0, 1, 6, 8, 12]);
  for (const form of ['exact-fused', 'predicate'] as const) {
    it(`the ${form} form matches the float64 reference and the CPU on WebGPU for ${form === 'predicate' ? 'every shape' : 'a part of the sweep'}`, async () => {
      for (const [what, shape] of SHAPES.filter((_, i) => form === 'predicate' || SUBSET.has(i))) {
        const c = cases.get(label(shape))!;
        const gpu = await run(c, form, 'webgpu');
        expect(relL2(gpu, c.reference), `${label(shape)} (${what}) vs float64`).toBeLessThan(TOL);
        expect(relL2(gpu, await run(c, form, 'cpu')), `${label(shape)} (${what}) vs the CPU`).toBeLessThan(TOL);
      }
    }, 300_000);
  }
});

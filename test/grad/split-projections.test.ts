/**
 * A projection read only in slices (GEGLU: `h, gate = proj(x).chunk(2, -1)`) becomes one
 * projection per slice (onnx/split-projections.ts): same outputs, same gradients, no Slice left
 * (so no copy of the full-width projection forward, no padded gradients backward).
 */
import { describe, expect, it } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import { ModelBuilder } from '../../src/main/engine/onnx/builder.js';
import type { HostTensor, Model } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { specialize } from '../../src/main/engine/onnx/specialize.js';
import { splitSlicedProjections } from '../../src/main/engine/onnx/split-projections.js';
import { loadModel } from '../../src/main/engine/onnx/model-io.js';
import { tap } from '../../src/main/engine/onnx/transforms.js';
import { HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { Rng } from '../helpers/random.js';

function f32(dims: number[], seed: number, scale = 1): HostTensor {
  const rng = new Rng(seed);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale) };
}

/** y = Σ w ⊙ (h ⊙ gelu(gate)), [h | gate] = x·W + b sliced in two halves, as TorchScript exports chunk(2, -1). */
function gegluModel(withBias: boolean, axis: number): { model: Model; shapes: Record<string, number[]> } {
  const [B, S, K, N] = [2, 5, 6, 8];
  const m = new ModelBuilder('geglu', 17);
  const x = m.input('x', 'float32', [B, S, K]);
  const w = m.input('w', 'float32', [B, S, N / 2]);
  let p = m.op1('MatMul', [x, m.floats(Array.from(f32([K, N], 1, 0.5).data as Float32Array), [K, N])]);
  if (withBias) p = m.op1('Add', [m.floats(Array.from(f32([N], 2).data as Float32Array), [N]), p]);
  const half = (from: number, to: number) => m.op1('Slice', [p, m.ints([from]), m.ints([to]), m.ints([axis])]);
  const h = half(0, N / 2);
  const gate = half(N / 2, N);
  const gelu = m.mul(m.mul(gate, m.add(m.op1('Erf', [m.div(gate, m.scalar(Math.SQRT2, gate))]), m.scalar(1, gate))), m.scalar(0.5, gate));
  m.output('y', m.reduceSum(m.mul(m.mul(h, gelu), w), [0, 1, 2], false));
  return { model: m.build(), shapes: { x: [B, S, K], w: [B, S, N / 2] } };
}

async function run(model: Model, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await createModelSession(model, { providers: ['cpu'] });
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

describe('projections read in slices', () => {
  for (const [withBias, axis] of [
    [true, -1],
    [false, 2],
  ] as const) {
    it(`become one projection per slice, with the same outputs and gradients (${withBias ? 'bias' : 'no bias'}, axis ${axis})`, async () => {
      const { model, shapes } = gegluModel(withBias, axis);
      const feeds = { x: f32(shapes.x, 11), w: f32(shapes.w, 12) };
      const before = specialize(model, shapes);
      const after = specialize(model, shapes);
      expect(splitSlicedProjections(after.model, after.info)).toBe(1);
      const ops = after.model.graph.nodes.map((n) => n.opType);
      expect(ops.filter((op) => op === 'Slice')).toHaveLength(0);
      expect(ops.filter((op) => op === 'MatMul')).toHaveLength(2);
      const [a, b] = [buildVjp(before, { wrt: ['x'], output: 'y', seed: 'ones' }), buildVjp(after, { wrt: ['x'], output: 'y', seed: 'ones' })];
      // the backward pass pads no slice gradient back to the full width
      expect(b.model.graph.nodes.some((n) => n.opType === 'Pad')).toBe(false);
      expect(a.model.graph.nodes.some((n) => n.opType === 'Pad')).toBe(true);
      const [ra, rb] = [await run(a.model, feeds), await run(b.model, feeds)];
      expect(relErr(rb.y, ra.y)).toBeLessThan(1e-6);
      expect(relErr(rb[b.gradOutputs.x], ra[a.gradOutputs.x])).toBeLessThan(1e-6);
    });
  }

  it('leaves a projection alone when something else reads it whole, or a slice is not on the last axis', () => {
    const m = new ModelBuilder('other', 17);
    const x = m.input('x', 'float32', [2, 3, 4]);
    const p = m.op1('MatMul', [x, m.floats(Array.from(f32([4, 6], 3).data as Float32Array), [4, 6])]);
    const s1 = m.op1('Slice', [p, m.ints([0]), m.ints([3]), m.ints([-1])]);
    const s2 = m.op1('Slice', [p, m.ints([0]), m.ints([1]), m.ints([1])]);
    m.output('a', s1);
    m.output('b', s2);
    m.output('c', m.op1('Relu', [p]));
    const spec = specialize(m.build(), { x: [2, 3, 4] });
    expect(splitSlicedProjections(spec.model, spec.info)).toBe(0);
  });

  it.skipIf(!HAVE_FIXTURES)('splits every GEGLU projection of the tiny UNet', () => {
    const t = tap(loadModel(modelPath('sd/unet/model.onnx')), 'up_blocks.1', 'features');
    const spec = specialize(t.model, { sample: [2, 4, 8, 8], timestep: [], encoder_hidden_states: [2, 77, 32] });
    const geglus = spec.model.graph.nodes.filter((n) => n.opType === 'Slice' && /ff\/net\.0\/Slice$/.test(n.name)).length;
    expect(geglus).toBeGreaterThan(0);
    expect(splitSlicedProjections(spec.model, spec.info)).toBe(geglus);
    expect(spec.model.graph.nodes.some((n) => n.opType === 'Slice' && n.name.includes('ff/net.0'))).toBe(false);
  });
});

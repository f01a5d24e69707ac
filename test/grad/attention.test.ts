/**
 * Memory-efficient attention (onnx/attention.ts) and its rematerialised backward
 * (autodiff/patterns.ts): the fused and blocked forward forms equal the exported ops, and the
 * gradients computed over query blocks (probabilities recomputed, never kept) equal the plain
 * backward pass and central differences. Tolerances: forward 1e-5, gradients 1e-4 (relative L2).
 */
import { describe, expect, it } from 'vitest';
import { buildVjp, type VjpOptions } from '../../src/main/engine/autodiff/backprop.js';
import { findAttentionCores, rewriteAttention, scalarInitializer } from '../../src/main/engine/onnx/attention.js';
import { ModelBuilder } from '../../src/main/engine/onnx/builder.js';
import { loadModel } from '../../src/main/engine/onnx/model-io.js';
import type { HostTensor, Model, Node } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { specialize } from '../../src/main/engine/onnx/specialize.js';
import { tap } from '../../src/main/engine/onnx/transforms.js';
import { caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { Rng } from '../helpers/random.js';

function f32(dims: number[], seed: number, scale = 1): HostTensor {
  const rng = new Rng(seed);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale) };
}

/**
 * An attention core as exporters write it: y = sum(w ⊙ (softmax(c · (x·Wq)·(x·Wk)ᵀ) · (x·Wv))), with
 * the heads split by Reshape/Transpose; `scale` null puts the scale on Q and K as SDPA exports do.
 */
function attentionModel(o: { B: number; heads: number; S: number; d: number; scale: number | null }): { model: Model; shapes: Record<string, number[]> } {
  const m = new ModelBuilder('attn', 17);
  const D = o.heads * o.d;
  const x = m.input('x', 'float32', [o.B, o.S, D]);
  const w = m.input('w', 'float32', [o.B, o.heads, o.S, o.d]);
  const proj = (seed: number) => m.floats(Array.from(f32([D, D], seed, 0.3).data as Float32Array), [D, D]);
  const split = (t: string) => m.transpose(m.reshape(t, [o.B, o.S, o.heads, o.d]), [0, 2, 1, 3]);
  let q = split(m.op1('MatMul', [x, proj(1)]));
  let k = m.transpose(m.reshape(m.op1('MatMul', [x, proj(2)]), [o.B, o.S, o.heads, o.d]), [0, 2, 3, 1]);
  const v = split(m.op1('MatMul', [x, proj(3)]));
  if (o.scale === null) {
    const s = m.scalar(Math.sqrt(1 / Math.sqrt(o.d)), q);
    q = m.mul(q, s);
    k = m.mul(k, s);
  }
  let scores = m.op1('MatMul', [q, k]);
  if (o.scale !== null) scores = m.mul(scores, m.scalar(o.scale, scores));
  const out = m.op1('MatMul', [m.op1('Softmax', [scores], { axis: -1 }), v]);
  m.output('y', m.reduceSum(m.mul(out, w), [0, 1, 2, 3], false));
  return { model: m.build(), shapes: { x: [o.B, o.S, D], w: [o.B, o.heads, o.S, o.d] } };
}

async function run(model: Model, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await createModelSession(model, { providers: ['cpu'] });
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

const FORCE = { attentionMinBytes: 0, blockBytes: 1 };

/** A node of Softmax's own VJP rule (the plain backward), not a recomputed block's Softmax. */
const softmaxVjp = (n: Node) => n.opType !== 'Softmax' && /Softmax[^/]*_Grad/.test(n.name);

describe('attention cores', () => {
  const cfg = { B: 2, heads: 3, S: 12, d: 4 };
  for (const scale of [null, 0.37]) {
    const label = scale === null ? 'scale folded into Q and K' : `scale ${scale} on the scores`;
    const { model, shapes } = attentionModel({ ...cfg, scale });
    const feeds = { x: f32(shapes.x, 11), w: f32(shapes.w, 12) };

    it(`are found in exported form (${label})`, () => {
      const spec = specialize(model, shapes);
      const cores = findAttentionCores(
        spec.model.graph,
        (t) => spec.info.get(t),
        (t) => scalarInitializer(spec.model.graph, t),
      );
      expect(cores).toHaveLength(1);
      expect(cores[0]).toMatchObject({ lead: [2, 3], S: 12, T: 12, d: 4, dv: 4 });
      expect(cores[0].scale).toBeCloseTo(scale ?? 1, 6);
    });

    for (const mode of ['fused', 'blocked'] as const) {
      it(`${mode} forward equals the exported ops (${label})`, async () => {
        const spec = specialize(model, shapes);
        const r = rewriteAttention(spec.model, spec.info, { mode, minBytes: 0, blockBytes: 3 * 3 * 12 * 4 * 2 * 2 });
        expect(r.rewritten).toBe(1);
        const ops = r.model.graph.nodes.map((n) => n.opType);
        // the exported probabilities are gone (the blocked form computes its own, block by block)
        const exported = spec.model.graph.nodes.find((n) => n.opType === 'Softmax')!.name;
        expect(r.model.graph.nodes.some((n) => n.name === exported)).toBe(false);
        expect(ops.includes(mode === 'fused' ? 'MultiHeadAttention' : 'Concat')).toBe(true);
        expect(ops.some((op) => op === 'Scan' || op === 'Loop')).toBe(false);
        const [want, got] = [await run(spec.model, feeds), await run(r.model, feeds)];
        expect(relErr(got.y, want.y)).toBeLessThan(1e-5);
      });
    }

    it(`gradients over query blocks equal the plain backward pass (${label})`, async () => {
      const spec = specialize(model, shapes);
      const opts: VjpOptions = { wrt: ['x', 'w'], output: 'y', seed: 'ones' };
      const plain = buildVjp(spec, opts);
      const remat = buildVjp(spec, { ...opts, rematerialize: FORCE });
      expect(remat.model.graph.nodes.some((n) => softmaxVjp(n))).toBe(false);
      // blocks unrolled, no control flow: 12 query rows in blocks of 1 (the budget is one byte)
      expect(remat.model.graph.nodes.some((n) => n.opType === 'Scan' || n.opType === 'Loop')).toBe(false);
      expect(remat.model.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name.includes('_Grad'))).toHaveLength(12);
      // the forward probabilities are read by the forward only: nothing in the backward keeps them
      const probs = spec.model.graph.nodes.find((n) => n.opType === 'Softmax')!.outputs[0];
      expect(remat.model.graph.nodes.filter((n) => n.inputs.includes(probs))).toHaveLength(1);
      const a = await run(plain.model, feeds);
      const b = await run(remat.model, feeds);
      for (const w of ['x', 'w']) expect(relErr(b[remat.gradOutputs[w]], a[plain.gradOutputs[w]])).toBeLessThan(1e-4);
      // the training pipeline: rematerialised backward, then the fused forward
      const fused = rewriteAttention(remat.model, remat.info, { mode: 'fused', minBytes: 0 });
      expect(fused.rewritten).toBe(1);
      const c = await run(fused.model, feeds);
      expect(relErr(c.y, a.y)).toBeLessThan(1e-5);
      for (const w of ['x', 'w']) expect(relErr(c[remat.gradOutputs[w]], a[plain.gradOutputs[w]])).toBeLessThan(1e-4);
    });
  }

  it('rematerialised gradients agree with central differences', async () => {
    const { model, shapes } = attentionModel({ ...cfg, scale: 0.5 });
    const spec = specialize(model, shapes);
    const v = buildVjp(spec, { wrt: ['x'], output: 'y', seed: 'ones', rematerialize: FORCE });
    const x = f32(shapes.x, 21);
    const w = f32(shapes.w, 22);
    const grad = (await run(v.model, { x, w }))[v.gradOutputs.x].data as Float32Array;
    // f64 copy of the forward for the differences
    const f64 = specialize(model, shapes);
    const session = await createModelSession(f64.model, { providers: ['cpu'] });
    const h = 1e-2;
    const probe = [0, 7, 31, 50, 95];
    try {
      for (const i of probe) {
        const at = async (delta: number) => {
          const xd = new Float32Array(x.data as Float32Array);
          xd[i] += delta;
          return (await session.run({ x: { ...x, data: xd }, w }, ['y'])).y.data[0] as number;
        };
        const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
        expect(Math.abs(numeric - grad[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
    } finally {
      await session.dispose();
    }
  });

  it('small cores keep the plain backward under the default policy', () => {
    const { model, shapes } = attentionModel({ ...cfg, scale: null });
    const v = buildVjp(specialize(model, shapes), { wrt: ['x'], output: 'y', seed: 'ones' });
    expect(v.model.graph.nodes.some((n) => n.opType === 'Softmax' && n.name.includes('_Grad'))).toBe(false);
  });
});

describe.skipIf(!HAVE_FIXTURES)('the tiny UNet with blocked attention and its backward', () => {
  for (const c of ['unet_tap_vjp_b1', 'unet_tap_vjp_b2']) {
    it(`equals the plain graph and the reference (${c})`, async () => {
      const t = tap(loadModel(modelPath('sd/unet/model.onnx')), 'up_blocks.1', 'features');
      const feeds = { sample: caseTensor(c, 'sample'), timestep: caseTensor(c, 'timestep'), encoder_hidden_states: caseTensor(c, 'encoder_hidden_states') };
      const shapes = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims]));
      const spec = specialize(t.model, shapes);
      const plain = buildVjp(spec, { wrt: ['encoder_hidden_states'] });
      const remat = buildVjp(spec, { wrt: ['encoder_hidden_states'], rematerialize: FORCE });
      // every attention on the gradient's path is recomputed per block (the first self-attention
      // comes before any cross-attention, so nothing there depends on the prompt)
      expect(remat.model.graph.nodes.some((n) => n.opType === 'Scan' || n.opType === 'Loop')).toBe(false);
      expect(new Set(remat.model.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name.includes('_Grad')).map((n) => n.name.split('_Grad')[0])).size).toBeGreaterThan(10);
      expect(remat.model.graph.nodes.some((n) => softmaxVjp(n))).toBe(false);
      expect(plain.model.graph.nodes.some((n) => softmaxVjp(n))).toBe(true);
      const cot = caseTensor(c, 'cotangent');
      const a = await run(plain.model, { ...feeds, [plain.cotangentInput!]: cot });
      for (const mode of ['fused', 'blocked'] as const) {
        const m = rewriteAttention(remat.model, remat.info, { mode, minBytes: 0, blockBytes: 1 }).model;
        const b = await run(m, { ...feeds, [remat.cotangentInput!]: cot });
        expect(relErr(b.features, a.features)).toBeLessThan(1e-5);
        expect(relErr(b[remat.gradOutputs.encoder_hidden_states], a[plain.gradOutputs.encoder_hidden_states])).toBeLessThan(1e-4);
        expect(relErr(b.features, caseTensor(c, 'features'))).toBeLessThan(1e-4);
        expect(relErr(b[remat.gradOutputs.encoder_hidden_states], caseTensor(c, 'grad_encoder_hidden_states'))).toBeLessThan(1e-3);
      }
    });
  }
});

/**
 * Float16 graphs (src/main/engine/onnx/fp16.ts): the float16 numbers, the pass's structure on a
 * hand-built graph (which nodes compute in float16, which stay float32, casts at the boundaries,
 * float32 graph inputs and outputs) and its values on the CPU; the provider probe; and parity on
 * the tiny fixtures — the feature graph (VAE moments -> noisy latents -> UNet up_blocks.1), the
 * UNet tap's VJP and the SD4Match loss with its gradients, float16 against float32 and against
 * the PyTorch reference — on the CPU, and on WebGPU over lavapipe when the adapter offers float16.
 *
 * Tolerances (relative L2). One float16 rounding is off by up to 2^-11 = 4.9e-4 (float16's
 * epsilon is 9.8e-4). ONNX Runtime's CPU has no float16 MatMul or Conv kernels: it casts the
 * float16 weights back to float32 at load and computes in float32 (its profile shows the
 * `InsertedPrecisionFreeCast_*` nodes), so on the CPU only the weights' rounding and the casts
 * between regions count: measured 1.5e-3 to 1.6e-3 on the feature graph, held to 5e-3. The CPU
 * runs check the converted graphs are valid and their float32 islands right; the WebGPU runs are
 * float16 arithmetic (MatMul and Conv on WebGPU with float16 inputs, checked in the profile),
 * and its kernels accumulate in float16: a sum of K products gains about sqrt(K) x 2^-11 (the tiny
 * UNet's 3x3 convolutions over 32 channels sum 288 products: 8e-3), measured 9.8e-3 to 1.0e-2 on
 * the feature graph and 1.1e-2 on the VJP's gradients (1.0e-2 on the tap with
 * com.microsoft.MultiHeadAttention in float16), held to 2e-2 (3e-2 for gradients, which pass the
 * layers twice). The training step's prompt gradient goes back through the UNet and then the text encoder:
 * measured 2.8e-3 on the CPU (held to 5e-3) and 2.6e-2 on WebGPU (held to 5e-2; its loss 2.0e-3).
 * float32 holds 1e-4 (forward) and 1e-3 (gradients) against the same reference. The loss keeps its
 * reductions, Exp and Log in float32; its float16 part is the correlation MatMul: 1e-2 (measured
 * 3.4e-3 on WebGPU). The numbers measured are printed.
 *
 * The UNet VJP and the training step on WebGPU take 25 s to a minute each on lavapipe: they run in
 * the WebGPU parity run (SD4MATCH_TEST_PROVIDER=webgpu), on the CPU otherwise.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import { rewriteAttention } from '../../src/main/engine/onnx/attention.js';
import { placementOf } from '../../src/main/engine/onnx/placement.js';
import { readNpy } from '../../src/main/engine/io/npy.js';
import { runModel } from '../../src/main/engine/graph/run.js';
import { inferDtypes } from '../../src/main/engine/onnx/dtype-infer.js';
import { convertToFloat16, float16Bits, float16Value, FLOAT16_MAX, fp16Supported, fromFloat16, probeFp16, resolvePrecision, toFloat16 } from '../../src/main/engine/onnx/fp16.js';
import type { HostTensor, Model, Node } from '../../src/main/engine/onnx/ir.js';
import { loadModel } from '../../src/main/engine/onnx/model-io.js';
import { parsePrecisionChoice } from '../../src/main/engine/onnx/precision.js';
import type { ProviderName } from '../../src/main/engine/onnx/providers.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { specialize } from '../../src/main/engine/onnx/specialize.js';
import { tap } from '../../src/main/engine/onnx/transforms.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { noiseCoefficients } from '../../src/main/engine/sd4match/training/schedule.js';
import { promptIndex, StepGraph } from '../../src/main/engine/sd4match/training/step-graph-cache.js';
import { rows } from '../../src/main/engine/sd4match/prompts/token-rows.js';
import { buildLossGraph, lossFeeds } from '../../src/main/engine/sd4match/training/loss.js';
import { runCli } from '../helpers/cli.js';
import { caseDir, caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { softwareVulkan, softwareVulkanMissing } from '../helpers/vulkan.js';

const F32 = (dims: number[], f: (i: number) => number): HostTensor => {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
};

function node(name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node {
  return { name, opType, domain: '', inputs, outputs, attrs, metadata: {} };
}

function init(name: string, t: HostTensor) {
  return [name, { name, dtype: t.dtype, dims: t.dims, data: { kind: 'bytes' as const, bytes: new Uint8Array((t.data as Float32Array).buffer) } }] as const;
}

/**
 * A transformer block in miniature, as exporters write it: a decomposed layer norm (ReduceMean,
 * Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add), a projection, scaled scores, Softmax, the
 * weighted sum, a residual; beside it a timestep embedding (int -> Cast -> Mul -> Sin) through a
 * projection, and a mean over everything (a loss-like reduction) as a second output.
 */
function blockModel(affineDims: number[] = [16]): Model {
  const D = 16;
  const S = 6;
  const initializers = new Map([
    init(
      'gamma',
      F32(affineDims, (i) => 1 + 0.05 * Math.sin(i)),
    ),
    init(
      'beta',
      F32(affineDims, (i) => 0.02 * Math.cos(i)),
    ),
    init(
      'Wq',
      F32([D, D], (i) => 0.25 * Math.sin(0.37 * i)),
    ),
    init(
      'Wk',
      F32([D, D], (i) => 0.25 * Math.cos(0.29 * i)),
    ),
    init(
      'Wv',
      F32([D, D], (i) => 0.25 * Math.sin(0.11 * i + 1)),
    ),
    init(
      'Wt',
      F32([D, D], (i) => 0.25 * Math.cos(0.53 * i + 2)),
    ),
    init(
      'freq',
      F32([D], (i) => Math.exp((-Math.log(10000) * i) / D)),
    ),
    init(
      'eps',
      F32([], () => 1e-5),
    ),
    init(
      'two',
      F32([], () => 2),
    ),
    init(
      'scale',
      F32([], () => 0.25),
    ),
    ['axes', { name: 'axes', dtype: 'int64' as const, dims: [1], data: { kind: 'bytes' as const, bytes: new Uint8Array(BigInt64Array.from([-1n]).buffer) } }],
  ]);
  return {
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: 'block',
    graph: {
      name: 'block',
      nodes: [
        node('ln/mean', 'ReduceMean', ['x'], ['mu'], { axes: { type: 'ints', value: [-1] } }),
        node('ln/sub', 'Sub', ['x', 'mu'], ['xc']),
        node('ln/pow', 'Pow', ['xc', 'two'], ['sq']),
        node('ln/var', 'ReduceMean', ['sq'], ['var'], { axes: { type: 'ints', value: [-1] } }),
        node('ln/add_eps', 'Add', ['var', 'eps'], ['var_eps']),
        node('ln/sqrt', 'Sqrt', ['var_eps'], ['std']),
        node('ln/div', 'Div', ['xc', 'std'], ['xn']),
        node('ln/mul', 'Mul', ['xn', 'gamma'], ['xg']),
        node('ln/add', 'Add', ['xg', 'beta'], ['h']),
        node('q', 'MatMul', ['h', 'Wq'], ['qv']),
        node('k', 'MatMul', ['h', 'Wk'], ['kv']),
        node('v', 'MatMul', ['h', 'Wv'], ['vv']),
        node('kt', 'Transpose', ['kv'], ['kT'], { perm: { type: 'ints', value: [1, 0] } }),
        node('scores', 'MatMul', ['qv', 'kT'], ['sc']),
        node('scaled', 'Mul', ['sc', 'scale'], ['scs']),
        node('softmax', 'Softmax', ['scs'], ['p'], { axis: { type: 'int', value: -1 } }),
        node('attn', 'MatMul', ['p', 'vv'], ['o']),
        node('t/cast', 'Cast', ['t'], ['tf'], { to: { type: 'int', value: 1 } }),
        node('t/mul', 'Mul', ['tf', 'freq'], ['targ']),
        node('t/sin', 'Sin', ['targ'], ['temb0']),
        node('t/proj', 'MatMul', ['temb0', 'Wt'], ['temb']),
        node('resid', 'Add', ['o', 'x'], ['r']),
        node('add_t', 'Add', ['r', 'temb'], ['y']),
        node('loss', 'ReduceMean', ['y'], ['m'], { keepdims: { type: 'int', value: 0 } }),
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [S, D] },
        { name: 't', dtype: 'int64', shape: [1] },
      ],
      outputs: [
        { name: 'y', dtype: 'float32', shape: [S, D] },
        { name: 'm', dtype: 'float32', shape: [] },
      ],
      initializers,
      valueInfo: new Map(),
    },
  };
}

const BLOCK_FEEDS = { x: F32([6, 16], (i) => 2 * Math.sin(0.7 * i) + 0.5), t: { dtype: 'int64' as const, dims: [1], data: BigInt64Array.from([999n]) } };

describe('float16 numbers', () => {
  it('rounds to the nearest float16 (half to even), keeps subnormals, and reads back', () => {
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(FLOAT16_MAX)).toBe(0x7bff);
    expect(float16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds to even: Infinity
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie goes to the even mantissa
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(float16Bits(2 ** -26)).toBe(0x0000);
    expect(float16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(float16Value(float16Bits(NaN)))).toBe(true);
    for (const v of [0.1, -3.14159, 1e-5, 6e-8, 1234.5, 0.000123]) {
      expect(Math.abs(float16Value(float16Bits(v)) - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
    }
  });

  it('clamps finite values beyond ±65504 (an attention mask of -3.4e38 stays finite)', () => {
    const { bits, clamped } = toFloat16([1e5, -3.4e38, Infinity, 3]);
    expect(clamped).toBe(2);
    expect(Array.from(fromFloat16(bits))).toEqual([65504, -65504, Infinity, 3]);
  });
});

describe('the float16 pass on a hand-built block (CPU)', () => {
  const f32 = blockModel();
  const { model: f16, report } = convertToFloat16(f32);
  const types = inferDtypes(f16.graph);
  const byName = new Map(f16.graph.nodes.map((n) => [n.name, n]));
  const outType = (n: string) => types.get(byName.get(n)!.outputs[0]);

  it('runs matrix products in float16 with float16 weights', () => {
    for (const n of ['q', 'k', 'v', 'scores', 'attn', 't/proj']) expect(outType(n), n).toBe('float16');
    for (const w of ['Wq', 'Wk', 'Wv', 'Wt']) expect(f16.graph.initializers.get(w)!.dtype, w).toBe('float16');
  });

  it('keeps softmax, the layer norm (fused into one float32 LayerNormalization), the loss reduction and the timestep embedding in float32', () => {
    expect(report.fusedLayerNorms).toBe(1);
    const ln = f16.graph.nodes.find((n) => n.opType === 'LayerNormalization')!;
    expect(ln.inputs.slice(1)).toEqual(['gamma', 'beta']);
    expect(ln.attrs.epsilon).toMatchObject({ value: expect.closeTo(1e-5, 9) });
    expect(types.get(ln.outputs[0])).toBe('float32');
    expect(types.get(ln.inputs[0])).toBe('float32');
    for (const n of ['softmax', 'loss', 't/cast', 't/mul', 't/sin']) expect(outType(n), n).toBe('float32');
    // constants of the float32 parts stay float32; the timestep's frequencies are not rounded
    for (const c of ['gamma', 'beta', 'freq']) expect(f16.graph.initializers.get(c)!.dtype, c).toBe('float32');
    // the pattern's own constants went with it
    for (const c of ['eps', 'two']) expect(f16.graph.initializers.has(c), c).toBe(false);
  });

  it('a decomposed layer norm it does not fuse keeps its reductions, Pow, Sqrt and what follows them in float32', () => {
    // γ and β of shape [1, D]: not the 1-D scale LayerNormalization takes, so the ops stay
    const { model, report: r } = convertToFloat16(blockModel([1, 16]));
    expect(r.fusedLayerNorms).toBe(0);
    const ty = inferDtypes(model.graph);
    const nodes = new Map(model.graph.nodes.map((n) => [n.name, n]));
    for (const n of ['ln/mean', 'ln/sub', 'ln/pow', 'ln/var', 'ln/add_eps', 'ln/sqrt', 'ln/div', 'ln/mul', 'ln/add']) expect(ty.get(nodes.get(n)!.outputs[0]), n).toBe('float32');
    expect(ty.get(nodes.get('q')!.outputs[0])).toBe('float16');
  });

  it('keeps graph inputs and outputs float32, with casts at every boundary', () => {
    expect(f16.graph.inputs.map((i) => [i.name, i.dtype])).toEqual([
      ['x', 'float32'],
      ['t', 'int64'],
    ]);
    expect(f16.graph.outputs.map((o) => [o.name, o.dtype])).toEqual([
      ['y', 'float32'],
      ['m', 'float32'],
    ]);
    const casts = f16.graph.nodes.filter((n) => n.opType === 'Cast' && n.name !== 't/cast');
    const h = f16.graph.nodes.find((n) => n.opType === 'LayerNormalization')!.outputs[0];
    expect(casts.length).toBe(report.casts);
    // h -> float16 for the three projections (one cast, shared), Softmax's input -> float32 and
    // its output -> float16, temb0 -> float16; the residual Add promotes to float32 (x is float32)
    const castOf = (t: string) => casts.filter((c) => c.inputs[0] === t).map((c) => types.get(c.outputs[0]));
    expect(h).toBe('h');
    expect(castOf('h')).toEqual(['float16']);
    expect(castOf('temb0')).toEqual(['float16']);
    expect(castOf('p')).toEqual(['float16']);
    expect(outType('resid')).toBe('float32');
    expect(report).toMatchObject({ fp16Nodes: 8, clamped: 0 });
  });

  it('runs on the CPU and matches float32 within 5e-3', async () => {
    const a = await runModel(f32, BLOCK_FEEDS, { providers: ['cpu'] });
    const b = await runModel(f16, BLOCK_FEEDS, { providers: ['cpu'] });
    expect(b.y.dtype).toBe('float32');
    const e = relErr(b.y, a.y);
    console.log(`[fp16] hand-built block on cpu: y ${e.toExponential(2)}, m ${relErr(b.m, a.m).toExponential(2)}`);
    expect(e).toBeLessThan(5e-3);
    expect(relErr(b.m, a.m)).toBeLessThan(5e-3);
  });

  it('leaves the input model unchanged', () => {
    expect(f32.graph.initializers.get('Wq')!.dtype).toBe('float32');
    expect(inferDtypes(f32.graph).get('qv')).toBe('float32');
  });

  it('keeps nodes named in keepFloat32 in float32', () => {
    const kept = convertToFloat16(f32, { keepFloat32: ['scores'] }).model;
    expect(inferDtypes(kept.graph).get('sc')).toBe('float32');
  });
});

describe('control flow in the float16 pass', () => {
  /** y = Scan over the rows of x of (row + x·W's first row): the body reads the outer MatMul's output by name. */
  function scanModel(): Model {
    const D = 8;
    const body = {
      name: 'body',
      nodes: [node('body/add', 'Add', ['row', 'bias_row'], ['row_out'])],
      inputs: [{ name: 'row', dtype: 'float32' as const, shape: [D] }],
      outputs: [{ name: 'row_out', dtype: 'float32' as const, shape: [D] }],
      initializers: new Map(),
      valueInfo: new Map(),
    };
    return {
      irVersion: 8,
      opsets: [{ domain: '', version: 17 }],
      producerName: 'test',
      producerVersion: '',
      docString: '',
      metadata: {},
      functions: [],
      source: 'scan',
      graph: {
        name: 'scan',
        nodes: [
          node('proj', 'MatMul', ['x', 'W'], ['xw']),
          node('first', 'Gather', ['xw', 'zero'], ['bias_row'], { axis: { type: 'int', value: 0 } }),
          node('scan', 'Scan', ['xw'], ['y'], { num_scan_inputs: { type: 'int', value: 1 }, body: { type: 'graph', value: body } }),
        ],
        inputs: [{ name: 'x', dtype: 'float32', shape: [4, D] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [4, D] }],
        initializers: new Map([
          init(
            'W',
            F32([D, D], (i) => Math.sin(0.3 * i)),
          ),
          ['zero', { name: 'zero', dtype: 'int64' as const, dims: [], data: { kind: 'bytes' as const, bytes: new Uint8Array(8) } }],
        ]),
        valueInfo: new Map(),
      },
    };
  }

  it('runs a Scan in float32: its inputs and the outer tensors its body reads are cast (renamed in the body)', async () => {
    const f32 = scanModel();
    const { model: f16 } = convertToFloat16(f32);
    const types = inferDtypes(f16.graph);
    const scan = f16.graph.nodes.find((n) => n.opType === 'Scan')!;
    expect(types.get('xw')).toBe('float16');
    expect(types.get(scan.inputs[0])).toBe('float32');
    const body = scan.attrs.body.value as { nodes: Node[] };
    const read = body.nodes[0].inputs[1];
    expect(read).not.toBe('bias_row');
    expect(types.get(read)).toBe('float32');
    // the input model's body is untouched
    expect((f32.graph.nodes[2].attrs.body.value as { nodes: Node[] }).nodes[0].inputs[1]).toBe('bias_row');
    const feeds = { x: F32([4, 8], (i) => Math.cos(0.2 * i)) };
    const a = await runModel(f32, feeds, { providers: ['cpu'] });
    const b = await runModel(f16, feeds, { providers: ['cpu'] });
    expect(relErr(b.y, a.y)).toBeLessThan(5e-3);
  });
});

describe('what a precision choice resolves to', () => {
  it('parses --precision and refuses anything else, naming the source', () => {
    expect(parsePrecisionChoice(' FP16 ', '--precision')).toBe('fp16');
    expect(() => parsePrecisionChoice('half', '--precision')).toThrow("unknown precision 'half' in --precision; expected one of: fp32, fp16, auto");
  });

  it('auto is float32 on the CPU without probing; fp32 is float32 anywhere', async () => {
    expect(await resolvePrecision('auto', 'cpu')).toMatchObject({ precision: 'fp32' });
    expect(await resolvePrecision('fp32', 'webgpu')).toMatchObject({ precision: 'fp32' });
  });

  it('the CPU runs the float16 probe but computes its products in float32, so only fp16 asked for by name uses it', async () => {
    const probe = await probeFp16('cpu');
    expect(probe, probe.reason).toMatchObject({ ok: true, ranOn: 'cpu', computesInFloat16: false });
    expect(probe.reason).toMatch(/^cpu has no float16 MatMul\/Conv kernels of its own: .*MatMul on cpu \(float\b/);
    expect(fp16Supported('cpu', probe)).toBe(false);
    expect(await resolvePrecision('fp16', 'cpu')).toMatchObject({ precision: 'fp16', reason: probe.reason });
  });
});

// ---------------------------------------------------------------------------------------------
// the fixtures

const vulkan = softwareVulkan();
const vulkanMissing = softwareVulkanMissing(vulkan);

/** The providers the fixture parity runs on: the CPU, and WebGPU when the adapter runs float16 (else why not). */
async function fixtureProviders(): Promise<{ providers: ProviderName[]; skipped: string | null }> {
  if (vulkanMissing) return { providers: ['cpu'], skipped: `WebGPU float16 parity skipped: ${vulkanMissing}` };
  Object.assign(process.env, vulkan, { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '' });
  const probe = await probeFp16('webgpu');
  if (!fp16Supported('webgpu', probe)) return { providers: ['cpu'], skipped: `WebGPU float16 parity skipped: ${probe.reason}` };
  return { providers: ['cpu', 'webgpu'], skipped: null };
}

/** Relative-error bounds per provider (see the top of the file for where they come from). */
function tolerance(provider: ProviderName, kind: 'forward' | 'gradient' | 'step-gradient'): number {
  if (provider === 'cpu') return 5e-3;
  return { forward: 2e-2, gradient: 3e-2, 'step-gradient': 5e-2 }[kind];
}

async function run(model: Model, feeds: Record<string, HostTensor>, provider: ProviderName): Promise<Record<string, HostTensor>> {
  const s = await createModelSession(model, { providers: [provider] });
  try {
    expect(s.provider).toBe(provider);
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

describe.skipIf(!HAVE_FIXTURES)('float16 parity on the tiny fixtures', () => {
  let dir: string;
  let providers: ProviderName[] = ['cpu'];
  let sd: SdModel;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-fp16-'));
    const p = await fixtureProviders();
    providers = p.providers;
    if (p.skipped) process.stderr.write(`fp16-parity: ${p.skipped}\n`);
    sd = SdModel.open(modelPath('sd'), { cacheDir: dir, providers: ['cpu'] });
  });
  afterAll(async () => {
    await sd?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function featureFeeds(t: number): Record<string, HostTensor> {
    const noise = caseTensor('image_to_features', 'noise');
    const { signal, noise: sigma } = noiseCoefficients(t, sd.acp);
    return {
      moments: caseTensor('image_to_features', 'latent_parameters'),
      eps: caseTensor('image_to_features', 'eps_vae'),
      noise: { ...noise, dims: [1, 1, ...noise.dims.slice(1)] },
      encoder_hidden_states: caseTensor('image_to_features', 'encoder_hidden_states'),
      timestep: { dtype: 'int64', dims: [], data: BigInt64Array.from([BigInt(t)]) },
      noise_coefficients: { dtype: 'float32', dims: [2], data: Float32Array.from([signal, sigma]) },
    };
  }

  for (const t of [50, 261]) {
    it(`feature graph at t = ${t}: float16 matches float32 and the reference`, async () => {
      const g = sd.featureGraph(1, 1, 32, 32).model;
      const { model: f16, report } = convertToFloat16(g);
      expect(report.fp16Nodes).toBeGreaterThan(20);
      const feeds = featureFeeds(t);
      // timestep rank and type as the fixture UNet declares them
      const ts = g.graph.inputs.find((i) => i.name === 'timestep')!;
      feeds.timestep = { dtype: ts.dtype, dims: (ts.shape ?? []).map(() => 1), data: BigInt64Array.from([BigInt(t)]) };
      const ref = caseTensor('image_to_features', `features_t${t}`);
      const fp32 = (await run(g, feeds, 'cpu')).features;
      expect(relErr(fp32, ref)).toBeLessThan(1e-4);
      for (const p of providers) {
        const out = (await run(f16, feeds, p)).features;
        const vs32 = relErr(out, fp32);
        const vsRef = relErr(out, ref);
        console.log(
          `[fp16] feature graph t=${t} on ${p}: vs fp32 ${vs32.toExponential(2)}, vs reference ${vsRef.toExponential(2)} (${report.fp16Nodes} nodes fp16, ${report.fp32Nodes} fp32, ${report.casts} casts)`,
        );
        expect(vs32).toBeLessThan(tolerance(p, 'forward'));
        expect(vsRef).toBeLessThan(tolerance(p, 'forward'));
      }
      if (t === 50 && providers.includes('webgpu')) {
        // float16 arithmetic on the GPU: every convolution and matrix product ran on WebGPU with float16 inputs
        const heavy = (await placementOf(f16, 'webgpu', { feeds })).nodes.filter((n) => /^(MatMul|Conv|Gemm)$/.test(n.opType));
        expect(heavy.length).toBeGreaterThan(20);
        expect(heavy.filter((n) => n.provider !== 'webgpu' || n.inputTypes.some((x) => x !== 'float16')).map((n) => `${n.name} ${n.provider} ${n.inputTypes}`)).toEqual([]);
      }
    });
  }

  it("the UNet tap's VJP through the pass: features and gradients match the reference", async () => {
    const c = 'unet_tap_vjp_b1';
    const t = tap(loadModel(modelPath('sd/unet/model.onnx')), 'up_blocks.1', 'features');
    const feeds = { sample: caseTensor(c, 'sample'), timestep: caseTensor(c, 'timestep'), encoder_hidden_states: caseTensor(c, 'encoder_hidden_states') };
    const spec = specialize(t.model, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])));
    const vjp = buildVjp(spec, { wrt: ['encoder_hidden_states'] });
    const { model: f16 } = convertToFloat16(vjp.model);
    const all = { ...feeds, [vjp.cotangentInput!]: caseTensor(c, 'cotangent') };
    const grad = vjp.gradOutputs.encoder_hidden_states;
    for (const p of providers.filter((q) => q === 'cpu' || process.env.SD4MATCH_TEST_PROVIDER === q)) {
      const out = await run(f16, all, p);
      const ef = relErr(out.features, caseTensor(c, 'features'));
      const eg = relErr(out[grad], caseTensor(c, 'grad_encoder_hidden_states'));
      console.log(`[fp16] UNet tap VJP on ${p}: features vs reference ${ef.toExponential(2)}, grad ${eg.toExponential(2)}`);
      expect(out[grad].dtype).toBe('float32');
      expect(ef).toBeLessThan(tolerance(p, 'forward'));
      expect(eg).toBeLessThan(tolerance(p, 'gradient'));
    }
  });

  for (const file of ['sd/unet/model.onnx', 'unet-dynamo/model.onnx']) {
    it(`the UNet tap (${file}) with com.microsoft.MultiHeadAttention: the attention runs in float16 and the features match`, async () => {
      const c = 'unet_tap_vjp_b1';
      const t = tap(loadModel(modelPath(file)), 'up_blocks.1', 'features');
      const feeds = { sample: caseTensor(c, 'sample'), timestep: caseTensor(c, 'timestep'), encoder_hidden_states: caseTensor(c, 'encoder_hidden_states') };
      const spec = specialize(t.model, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])));
      // every core fused (as for the CPU): this checks the float16 kernels, not which cores a provider fuses (attention-webgpu.ts)
      const fused = rewriteAttention(spec.model, spec.info, { mode: 'fused', minBytes: 0, provider: 'cpu' });
      expect(fused.rewritten).toBeGreaterThan(0);
      const { model: f16, report } = convertToFloat16(fused.model);
      const types = inferDtypes(f16.graph);
      // layer norms (the TorchScript export's decomposed ones fused by the pass, the dynamo export's own) in float32
      const norms = f16.graph.nodes.filter((n) => n.opType === 'LayerNormalization');
      expect(norms.length).toBe(30);
      for (const n of norms) expect([types.get(n.inputs[0]), types.get(n.outputs[0])]).toEqual(['float32', 'float32']);
      const mha = f16.graph.nodes.filter((n) => n.opType === 'MultiHeadAttention');
      expect(mha.length).toBe(fused.rewritten);
      for (const n of mha) expect([...n.inputs, ...n.outputs].map((x) => types.get(x))).toEqual(['float16', 'float16', 'float16', 'float16']);
      for (const p of providers) {
        const out = await run(f16, feeds, p);
        const e = relErr(out.features, caseTensor(c, 'features'));
        console.log(
          `[fp16] UNet tap (${file}) with MultiHeadAttention on ${p}: features vs reference ${e.toExponential(2)} (${mha.length} attention nodes, ${report.fusedLayerNorms} layer norms fused)`,
        );
        expect(e).toBeLessThan(tolerance(p, 'forward'));
      }
    });
  }

  it('auto resolves to float16 on WebGPU where the probe passes, and says why not elsewhere', async () => {
    const r = await resolvePrecision('auto', 'webgpu');
    if (providers.includes('webgpu')) expect(r).toMatchObject({ precision: 'fp16', reason: expect.stringMatching(/^float16 MatMul and Conv run on webgpu within/) });
    else expect(r.precision).toBe('fp32');
  });

  it('the SD4Match loss and its gradients through the pass (reductions, Exp and Log kept float32) within 1e-2', async () => {
    const src = caseTensor('loss', 'src_featmaps');
    const trg = caseTensor('loss', 'trg_featmaps');
    const [B, C, h, w] = src.dims;
    const sk = caseTensor('loss', 'src_kps');
    const d = { B, N: sk.dims[1], C, h, w, h2: trg.dims[2], w2: trg.dims[3] };
    const settings = { temperature: 0.04, kernel: 7, sigma: 1.5 };
    const nPts = Array.from(caseTensor('loss', 'n_pts').data as BigInt64Array, Number);
    const frame = { h: 256, w: 256 };
    const feeds = {
      src_features: src,
      trg_features: trg,
      ...lossFeeds({ srcKps: sk.data as Float32Array, trgKps: caseTensor('loss', 'trg_kps').data as Float32Array, nPts, N: d.N, srcFrame: frame, trgFrame: frame }, d, settings),
    };
    const spec = specialize(buildLossGraph(d, settings), Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])));
    const vjp = buildVjp(spec, { wrt: ['src_features', 'trg_features'] });
    const { model: f16, report } = convertToFloat16(vjp.model);
    const all = { ...feeds, [vjp.cotangentInput!]: { dtype: 'float32' as const, dims: [], data: Float32Array.from([1]) } };
    for (const p of providers) {
      const out = await run(f16, all, p);
      const el = relErr(out.loss, caseTensor('loss', 'loss'));
      const es = relErr(out[vjp.gradOutputs.src_features], caseTensor('loss', 'grad_src_featmaps'));
      const et = relErr(out[vjp.gradOutputs.trg_features], caseTensor('loss', 'grad_trg_featmaps'));
      console.log(`[fp16] loss VJP on ${p}: loss ${el.toExponential(2)}, grad src ${es.toExponential(2)}, grad trg ${et.toExponential(2)} (${report.fp16Nodes} nodes fp16, ${report.fp32Nodes} fp32)`);
      expect(el).toBeLessThan(1e-2);
      expect(es).toBeLessThan(1e-2);
      expect(et).toBeLessThan(1e-2);
    }
  });

  it('the SD4Match-Single training step graph (text encoder, UNet, loss, VJP) through the pass: loss and prompt gradient match the reference', async () => {
    const c = (n: string) => caseTensor('single_step', n);
    const noisy = c('noisy_latents');
    const sk = c('src_kps');
    const N = sk.dims[1];
    const step = new StepGraph(sd, { B: 1, N, h: noisy.dims[2], w: noisy.dims[3], latents: 'noisy', frame: { h: 256, w: 256 } });
    await step.ready();
    const f32 = loadModel(path.join(step.dir, 'step.onnx'));
    const { model: f16, report } = convertToFloat16(f32);
    const gradName = f32.graph.outputs.find((o) => o.name !== 'loss')!.name;
    expect(f16.graph.outputs.map((o) => o.dtype)).toEqual(f32.graph.outputs.map(() => 'float32'));
    const tokens = await sd.embedIds(c('prompt_ids'));
    const feeds = {
      tokens,
      prompt_index: promptIndex([0]),
      noisy_latents: noisy,
      timestep: step.timestep(261),
      ...step.plans({ srcKps: sk.data as Float32Array, trgKps: c('trg_kps').data as Float32Array, nPts: Array.from(c('n_pts').data as BigInt64Array, Number), N }),
    };
    for (const p of providers.filter((q) => q === 'cpu' || process.env.SD4MATCH_TEST_PROVIDER === q)) {
      const out = await run(f16, feeds, p);
      const el = relErr(out.loss, c('loss_before'));
      const eg = relErr(rows(out[gradName], 1, 76), c('grad_learnable'));
      console.log(
        `[fp16] training step on ${p}: loss ${el.toExponential(2)}, prompt gradient ${eg.toExponential(2)} (${report.fp16Nodes} nodes fp16, ${report.fp32Nodes} fp32, ${report.fusedLayerNorms} layer norms fused)`,
      );
      expect(el).toBeLessThan(tolerance(p, 'forward'));
      expect(eg).toBeLessThan(tolerance(p, 'step-gradient'));
    }
  });

  it('SdModel with precision fp16 runs the float16 feature graph (features within 5e-3 of the reference on the CPU)', async () => {
    const t = 50;
    const f16sd = SdModel.open(modelPath('sd'), { cacheDir: dir, providers: ['cpu'], precision: 'fp16' });
    try {
      expect(await f16sd.featurePrecision()).toBe('fp16');
      const noise = caseTensor('image_to_features', 'noise');
      const out = await f16sd.features({
        moments: caseTensor('image_to_features', 'latent_parameters'),
        eps: caseTensor('image_to_features', 'eps_vae'),
        noise: { ...noise, dims: [1, 1, ...noise.dims.slice(1)] },
        encoderHiddenStates: caseTensor('image_to_features', 'encoder_hidden_states'),
        timestep: t,
      });
      const ref = caseTensor('image_to_features', `features_t${t}`);
      const e = relErr(out.features, ref);
      expect(e).toBeGreaterThan(1e-4); // float16 for real: the float32 graph is within 1e-4 (debug-fixtures)
      expect(e).toBeLessThan(tolerance('cpu', 'forward'));
    } finally {
      await f16sd.dispose();
    }
    expect(await sd.featurePrecision()).toBe('fp32');
  });

  it('--precision on the CLI: fp16 gives float16 features; an unknown value is refused naming the option', async () => {
    const bad = await runCli(['--precision', 'half', 'graph', 'info', modelPath('sd/unet/model.onnx')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown precision 'half' in --precision; expected one of: fp32, fp16, auto/);
    const c = (n: string) => path.join(caseDir('image_to_features'), `${n}.npy`);
    const out = path.join(dir, 'cli-features-fp16.npy');
    const r = await runCli([
      '--provider',
      'cpu',
      '--precision',
      'fp16',
      'debug',
      'features',
      '--model-dir',
      modelPath('sd'),
      '--pixels',
      c('image'),
      '--encoder-hidden-states',
      c('encoder_hidden_states'),
      '--timestep',
      '50',
      '--vae-eps',
      c('eps_vae'),
      '--noise',
      c('noise'),
      '--cache-dir',
      path.join(dir, 'cli-cache'),
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const e = relErr(readNpy(out), caseTensor('image_to_features', 'features_t50'));
    expect(e).toBeGreaterThan(1e-4);
    expect(e).toBeLessThan(tolerance('cpu', 'forward'));
  });
});

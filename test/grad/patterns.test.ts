/** Composite gradients replace op-by-op rules for patterns exporters write out (see patterns.ts). */
import { describe, expect, it } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import type { Model } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { constToTensorValue, specialize } from '../../src/main/engine/onnx/specialize.js';
import { handModel, node as n } from '../helpers/graphs.js';

function layerNormModel(extraUseOfCentered: boolean): Model {
  const axes = { axes: { type: 'ints' as const, value: [-1] } };
  const nodes = [
    n('mean', 'ReduceMean', ['x'], ['mu'], axes),
    n('sub', 'Sub', ['x', 'mu'], ['d']),
    n('pow', 'Pow', ['d', 'two'], ['d2']),
    n('mean2', 'ReduceMean', ['d2'], ['var'], axes),
    n('add', 'Add', ['var', 'eps'], ['ve']),
    n('sqrt', 'Sqrt', ['ve'], ['sd']),
    n('div', 'Div', ['d', 'sd'], ['y']),
  ];
  if (extraUseOfCentered) nodes.push(n('leak', 'Add', ['y', 'd'], ['y2']));
  return handModel(
    'ln',
    {
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 8] }],
      outputs: [{ name: extraUseOfCentered ? 'y2' : 'y', dtype: 'float32', shape: null }],
      initializers: new Map([
        ['two', constToTensorValue('two', { dtype: 'float32', dims: [], v: [2] })],
        ['eps', constToTensorValue('eps', { dtype: 'float32', dims: [], v: [1e-5] })],
      ]),
    },
    14,
  );
}

describe('composite gradients', () => {
  it('differentiate a decomposed layer norm as one unit', () => {
    const v = buildVjp(specialize(layerNormModel(false), { x: [2, 8] }), { wrt: ['x'] });
    const backward = v.model.graph.nodes.slice(7);
    expect(backward.some((b) => b.name.startsWith('pow_Grad') || b.name.startsWith('sqrt_Grad'))).toBe(false);
    expect(backward.length).toBeLessThanOrEqual(8);
  });

  it('are not used when an inner tensor has other consumers', () => {
    const v = buildVjp(specialize(layerNormModel(true), { x: [2, 8] }), { wrt: ['x'] });
    expect(v.model.graph.nodes.some((b) => b.name.startsWith('pow_Grad'))).toBe(true);
  });
});

describe('exact GELU as exported', () => {
  // y = sum(w ⊙ x · ½(1 + erf(x/√2)))
  function geluModel(): Model {
    const c = (name: string, v: number) => [name, constToTensorValue(name, { dtype: 'float32', dims: [], v: [v] })] as const;
    return {
      irVersion: 8,
      opsets: [{ domain: '', version: 14 }],
      producerName: 't',
      producerVersion: '',
      docString: '',
      metadata: {},
      functions: [],
      source: 'gelu',
      graph: {
        name: 'gelu',
        nodes: [
          n('div', 'Div', ['x', 'sqrt2'], ['d']),
          n('erf', 'Erf', ['d'], ['e']),
          n('add', 'Add', ['e', 'one'], ['a']),
          n('mul', 'Mul', ['x', 'a'], ['m']),
          n('half', 'Mul', ['m', 'h'], ['gelu']),
          n('w', 'Mul', ['gelu', 'wt'], ['gw']),
          n('sum', 'ReduceSum', ['gw'], ['y'], { keepdims: { type: 'int', value: 0 } }),
        ],
        inputs: [
          { name: 'x', dtype: 'float32', shape: [3, 5] },
          { name: 'wt', dtype: 'float32', shape: [3, 5] },
        ],
        outputs: [{ name: 'y', dtype: 'float32', shape: [] }],
        initializers: new Map([c('sqrt2', Math.SQRT2), c('one', 1), c('h', 0.5)]),
        valueInfo: new Map(),
      },
    };
  }

  it('is differentiated from x alone, and agrees with central differences', async () => {
    const spec = specialize(geluModel(), { x: [3, 5], wt: [3, 5] });
    const v = buildVjp(spec, { wrt: ['x'], output: 'y', seed: 'ones' });
    const backward = v.model.graph.nodes.slice(spec.model.graph.nodes.length);
    expect(backward.some((b) => b.name.startsWith('erf_Grad') || b.name.startsWith('mul_Grad'))).toBe(false);
    // the forward's inner tensors (x/√2, 1 + erf, x·(1 + erf)) are read by the forward only
    for (const t of ['d', 'a', 'm']) expect(v.model.graph.nodes.filter((k) => k.inputs.includes(t))).toHaveLength(1);
    const x = Float32Array.from({ length: 15 }, (_, i) => -3 + (6 * i) / 14 + 0.013);
    const wt = Float32Array.from({ length: 15 }, (_, i) => 0.5 + ((i * 7) % 5) / 5);
    const run = async (m: Model, feeds: Record<string, Float32Array>) => {
      const s = await createModelSession(m, { providers: ['cpu'] });
      try {
        return await s.run(Object.fromEntries(Object.entries(feeds).map(([k, d]) => [k, { dtype: 'float32' as const, dims: [3, 5], data: d }])));
      } finally {
        await s.dispose();
      }
    };
    const grad = (await run(v.model, { x, wt }))[v.gradOutputs.x].data as Float32Array;
    const h = 1e-2;
    for (let i = 0; i < 15; i++) {
      const at = async (delta: number) => {
        const xd = new Float32Array(x);
        xd[i] += delta;
        return (await run(spec.model, { x: xd, wt })).y.data[0] as number;
      };
      const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
      expect(Math.abs(numeric - grad[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
    }
  });
});

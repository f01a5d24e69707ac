/** Composite gradients replace op-by-op rules for patterns exporters write out (see patterns.ts). */
import { describe, expect, it } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import type { Model, Node } from '../../src/main/engine/onnx/ir.js';
import { constToTensorValue, specialize } from '../../src/main/engine/onnx/specialize.js';

const n = (name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attrs,
  metadata: {},
});

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
  return {
    irVersion: 8,
    opsets: [{ domain: '', version: 14 }],
    producerName: 't',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: 'ln',
    graph: {
      name: 'ln',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 8] }],
      outputs: [{ name: extraUseOfCentered ? 'y2' : 'y', dtype: 'float32', shape: null }],
      initializers: new Map([
        ['two', constToTensorValue('two', { dtype: 'float32', dims: [], v: [2] })],
        ['eps', constToTensorValue('eps', { dtype: 'float32', dims: [], v: [1e-5] })],
      ]),
      valueInfo: new Map(),
    },
  };
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

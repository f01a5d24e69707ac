/**
 * Gradient names are local to each node's rule (`<node>_Grad/<Op>_<n>`, ORT style): inserting a
 * node, or changing what one rule emits, renames nothing in the gradients of the other nodes.
 */
import { describe, expect, it } from 'vitest';
import { buildVjp, type VjpGraph } from '../../src/main/engine/autodiff/backprop.js';
import { validateGraph } from '../../src/main/engine/onnx/graph-utils.js';
import type { HostTensor, Model, Node } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { constToTensorValue, specialize } from '../../src/main/engine/onnx/specialize.js';
import { handModel, node as n } from '../helpers/graphs.js';

/** y = Σ_j tanh(extra(sin(x · w))) + b (keepdims, [2, 1]), with the `extra` node optional. */
function model(insert?: Node): Model {
  const nodes = [n('scale', 'Mul', ['x', 'w'], ['xw']), n('wave', 'Sin', ['xw'], ['s1'])];
  if (insert) nodes.push(insert);
  nodes.push(n('squash', 'Tanh', [insert ? insert.outputs[0] : 's1'], ['t']), n('total', 'ReduceSum', ['t', 'axes'], ['r']), n('shift', 'Add', ['r', 'b'], ['y']));
  return handModel('names', {
    nodes,
    inputs: [
      { name: 'x', dtype: 'float32', shape: [2, 3] },
      { name: 'w', dtype: 'float32', shape: [3] },
      { name: 'b', dtype: 'float32', shape: [] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', shape: null }],
    initializers: new Map([['axes', constToTensorValue('axes', { dtype: 'int64', dims: [1], v: [1] })]]),
  });
}

const vjp = (m: Model): VjpGraph => buildVjp(specialize(m, { x: [2, 3], w: [3], b: [] }), { wrt: ['x', 'w', 'b'] });

/** Names of the nodes and constants each forward node's rule emitted, by forward node. */
function gradNames(v: VjpGraph, forward: string[]): Record<string, string[]> {
  const all = [...v.model.graph.nodes.map((x) => x.name), ...v.model.graph.initializers.keys()];
  return Object.fromEntries(forward.map((f) => [f, all.filter((a) => a.startsWith(`${f}_Grad/`))]));
}

describe('gradient node names', () => {
  const untouched = ['scale', 'wave', 'squash', 'total', 'shift'];

  it('of untouched nodes stay the same when another node is inserted on the path', () => {
    const before = gradNames(vjp(model()), untouched);
    const after = vjp(model(n('extra', 'Exp', ['s1'], ['e'])));
    expect(gradNames(after, untouched)).toEqual(before);
    expect(after.model.graph.nodes.some((x) => x.name.startsWith('extra_Grad/'))).toBe(true);
    // every node of the path emitted something under its own prefix
    for (const f of ['scale', 'wave', 'squash', 'total']) expect(before[f].length).toBeGreaterThan(0);
  });

  it('of the other nodes stay the same when one rule emits other nodes (Tanh replaced by Abs)', () => {
    const before = gradNames(vjp(model()), ['scale', 'wave', 'total', 'shift']);
    const m = model();
    m.graph.nodes.find((x) => x.name === 'squash')!.opType = 'Abs';
    expect(gradNames(vjp(m), ['scale', 'wave', 'total', 'shift'])).toEqual(before);
  });

  it('are unique, follow <node>_Grad/<Op>_<n>, and the graph validates and runs', async () => {
    const v = vjp(model(n('extra', 'Exp', ['s1'], ['e'])));
    const g = v.model.graph;
    validateGraph(g);
    const names = g.nodes.map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
    const tensors = g.nodes.flatMap((x) => x.outputs);
    expect(new Set([...tensors, ...g.initializers.keys()]).size).toBe(tensors.length + g.initializers.size);
    expect(gradNames(v, ['wave']).wave.filter((x) => g.nodes.some((y) => y.name === x))).toEqual(['wave_Grad/Cos_0', 'wave_Grad/Mul_1']);
    const s = await createModelSession(v.model, { graphOptimization: 'disabled' });
    try {
      const f = (dims: number[], v: number[]): HostTensor => ({ dtype: 'float32', dims, data: Float32Array.from(v) });
      const out = await s.run({ x: f([2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), w: f([3], [1, -1, 0.5]), b: f([], [0.25]), [v.cotangentInput!]: f([2, 1], [1, 1]) });
      // dy/db summed over the two rows of y
      expect(Array.from(out[v.gradOutputs.b].data, Number)).toEqual([2]);
    } finally {
      await s.dispose();
    }
  });
});

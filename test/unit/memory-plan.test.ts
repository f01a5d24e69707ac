/**
 * The memory plan's execution order (onnx/memory-plan.ts) and why weight-only nodes go first: a
 * weight-derived input listed after its consumer's other inputs is computed first and held from
 * the start; listed before them, it is computed just before its consumer.
 */
import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../../src/main/engine/onnx/ir.js';
import { executionOrder, orderWeightOnlyFirst, planMemory } from '../../src/main/engine/onnx/memory-plan.js';

const N = 1024;
const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({ name, opType, domain: '', inputs, outputs, attrs: {}, metadata: {} }) as Node;

/** x -> Concat (4x wider) -> Slice -> Add(., Neg(w)) -> y, with the weight-only Neg listed late. */
function graph(): { g: Graph; shape: (t: string) => { dtype: 'float32'; dims: number[] } | undefined } {
  const dims: Record<string, number[]> = { x: [N], wide: [4 * N], narrow: [N], w: [N], negW: [N], y: [N] };
  const g = {
    name: 'g',
    inputs: [{ name: 'x', dtype: 'float32', shape: [N] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [N] }],
    initializers: new Map([['w', { dtype: 'float32', dims: [N], data: new Float32Array(N) }]]),
    valueInfo: new Map(),
    nodes: [node('concat', 'Concat', ['x', 'x', 'x', 'x'], ['wide']), node('slice', 'Slice', ['wide'], ['narrow']), node('neg', 'Neg', ['w'], ['negW']), node('add', 'Add', ['narrow', 'negW'], ['y'])],
  } as unknown as Graph;
  return { g, shape: (t) => (dims[t] ? { dtype: 'float32', dims: dims[t] } : undefined) };
}

describe('the memory plan', () => {
  it("follows ONNX Runtime's order: the later-listed input of a node is computed first", () => {
    const { g } = graph();
    expect(executionOrder(g).map((n) => n.name)).toEqual(['neg', 'concat', 'slice', 'add']);
  });

  it('computes weight-only inputs just before their consumer once they are listed first', () => {
    const { g, shape } = graph();
    const before = planMemory(g, shape).peakBytes;
    expect(orderWeightOnlyFirst(g)).toBe(1);
    expect(g.nodes.map((n) => n.name)).toEqual(['neg', 'concat', 'slice', 'add']);
    expect(executionOrder(g).map((n) => n.name)).toEqual(['concat', 'slice', 'neg', 'add']);
    const after = planMemory(g, shape).peakBytes;
    // the negated weight is no longer held while the 4N-wide tensor lives
    expect(before - after).toBe(4 * N);
  });

  it('tells weight-only nodes apart in a node list that is not in topological order', () => {
    const { g } = graph();
    const byName = new Map(g.nodes.map((n) => [n.name, n]));
    g.nodes = ['add', 'slice', 'neg', 'concat'].map((n) => byName.get(n)!);
    expect(orderWeightOnlyFirst(g)).toBe(1);
    expect(g.nodes.map((n) => n.name)).toEqual(['neg', 'add', 'slice', 'concat']);
  });
});

import { describe, expect, it } from 'vitest';
import { planBatches } from '../../src/main/engine/graph/batching.js';
import type { Graph, Model, Node } from '../../src/main/engine/onnx/ir.js';
import { moduleChain, moduleOutput, resolveScope, scopeIndex } from '../../src/main/engine/onnx/scopes.js';
import { constToTensorValue, specialize } from '../../src/main/engine/onnx/specialize.js';
import { handModel } from '../helpers/graphs.js';

const node = (name: string, opType: string, inputs: string[], outputs: string[], metadata: Record<string, string> = {}): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attrs: {},
  metadata,
});

function model(graph: Partial<Graph>, opset = 14): Model {
  return handModel('g', { nodes: [], inputs: [], outputs: [], ...graph }, opset);
}

describe('module scopes', () => {
  it('reads TorchScript node names as module paths', () => {
    expect(moduleChain(node('/up_blocks.1/upsamplers.0/conv/Conv', 'Conv', [], []))).toEqual(['up_blocks.1', 'up_blocks.1.upsamplers.0', 'up_blocks.1.upsamplers.0.conv']);
    expect(moduleChain(node('Constant_12', 'Constant', [], []))).toEqual([]);
  });

  it("reads the dynamo exporter's namespace metadata", () => {
    const n = node('node_conv2d_44', 'Conv', [], [], {
      namespace: ': __main__.UNet/up_blocks.1: diffusers.CrossAttnUpBlock2D/up_blocks.1.upsamplers.0: diffusers.Upsample2D/conv2d_44: aten.conv2d.default',
    });
    expect(moduleChain(n)).toEqual(['up_blocks.1', 'up_blocks.1.upsamplers.0']);
  });

  it('gives exporter-added nodes without scope the innermost scope of their producers', () => {
    const ns = (m: string) => ({ namespace: `: M/${m}: C/op: aten.op` });
    const g = model({
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: null }],
      nodes: [node('a', 'Relu', ['x'], ['t'], ns('blocks.0: B/blocks.0.ff')), node('split', 'Split', ['t'], ['u', 'v']), node('b', 'Add', ['u', 'v'], ['y'], ns('blocks.0: B/blocks.0.ff'))],
    }).graph;
    const idx = scopeIndex(g);
    expect(idx.get(g.nodes[1])).toEqual(['blocks.0', 'blocks.0.ff']);
    expect(moduleOutput(g, 'blocks.0').tensor).toBe('y');
  });

  it('resolves a unique suffix and refuses an ambiguous one', () => {
    const g = model({
      nodes: [node('/text_model/embeddings/Add', 'Add', [], ['e']), node('/a/norm/Mul', 'Mul', [], ['m']), node('/b/norm/Mul', 'Mul', [], ['n'])],
    }).graph;
    expect(resolveScope(g, 'embeddings')).toBe('text_model.embeddings');
    expect(() => resolveScope(g, 'norm')).toThrow(/module scope 'norm' is ambiguous; it matches a\.norm, b\.norm/);
  });
});

describe('specialisation to concrete shapes', () => {
  // x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x): a shape-only subgraph
  const m = () =>
    model({
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 6] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: null }],
      initializers: new Map([
        ['zero', constToTensorValue('zero', { dtype: 'int64', dims: [], v: [0] })],
        ['axes', constToTensorValue('axes', { dtype: 'int64', dims: [1], v: [0] })],
        ['minus', constToTensorValue('minus', { dtype: 'int64', dims: [2], v: [3, -1] })],
      ]),
      nodes: [
        node('shape', 'Shape', ['x'], ['s']),
        node('gather', 'Gather', ['s', 'zero'], ['b']),
        node('unsq', 'Unsqueeze', ['b', 'axes'], ['b1']),
        { ...node('concat', 'Concat', ['b1', 'minus'], ['target']), attrs: { axis: { type: 'int', value: 0 } } },
        node('reshape', 'Reshape', ['x', 'target'], ['y']),
      ],
    });

  it('folds shape arithmetic into constants and infers every shape', () => {
    const s = specialize(m(), { x: [4, 6] });
    expect(s.model.graph.nodes.map((n) => n.opType)).toEqual(['Reshape']);
    expect(s.info.get('y')!.dims).toEqual([4, 3, 2]);
    expect(s.model.graph.outputs[0].shape).toEqual([4, 3, 2]);
  });

  it('names the input, its declared shape and the offending dimension', () => {
    expect(() => specialize(m(), { x: [4, 5] })).toThrow("input 'x' is declared [batch, 6]; got [4, 5] (dimension 1 must be 6)");
    expect(() => specialize(m(), {})).toThrow("no shape given for graph input 'x'");
  });

  it('refuses opsets older than 13', () => {
    expect(() => specialize({ ...m(), opsets: [{ domain: '', version: 11 }] }, { x: [4, 6] })).toThrow(/opset 11 is not supported/);
  });
});

describe('static-batch models', () => {
  const declared = [
    { name: 'sample', dtype: 'float32' as const, shape: [1, 4, 8, 8] },
    { name: 'timestep', dtype: 'int64' as const, shape: [] },
  ];
  it('cuts a larger batch into chunks of the declared size', () => {
    const p = planBatches(declared, { sample: [3, 4, 8, 8], timestep: [] });
    expect(p.chunks).toBe(3);
    expect([...p.split]).toEqual(['sample']);
    expect(p.chunkShapes.sample).toEqual([1, 4, 8, 8]);
  });
  it('refuses other mismatching dimensions', () => {
    expect(() => planBatches(declared, { sample: [2, 4, 8, 9], timestep: [] })).toThrow(/dimension 3 must be 8/);
  });
});

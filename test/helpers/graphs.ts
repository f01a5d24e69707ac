/** Small ONNX graphs written out by hand for autodiff and IR tests. */
import type { Graph, Model, Node } from '../../src/main/engine/onnx/ir.js';

/** A default-domain node. */
export const node = (name: string, opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attrs,
  metadata: {},
});

/** A model of one graph named `name` at `opset` (initializers and value infos empty unless given). */
export function handModel(name: string, g: Pick<Graph, 'nodes' | 'inputs' | 'outputs'> & Partial<Graph>, opset = 17): Model {
  return {
    irVersion: 8,
    opsets: [{ domain: '', version: opset }],
    producerName: 't',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: name,
    graph: { name, initializers: new Map(), valueInfo: new Map(), ...g },
  };
}

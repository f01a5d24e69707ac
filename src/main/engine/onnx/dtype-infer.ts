/**
 * Element types of every tensor from the graph inputs, initializers and op semantics — cheap, and
 * enough for tools that need to know what is float without knowing shapes.
 */
import { dtypeFromCode, type DType } from './dtypes.js';
import type { Graph, Node } from './ir.js';
import { topoSort } from './graph-utils.js';

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero']);

export function nodeOutputDtypes(node: Node, inputDtype: (name: string) => DType | undefined): (DType | undefined)[] {
  const first = node.inputs[0] ? inputDtype(node.inputs[0]) : undefined;
  const op = node.opType;
  if (BOOL_OPS.has(op)) return node.outputs.map(() => 'bool');
  if (INT64_OPS.has(op)) return node.outputs.map(() => 'int64');
  switch (op) {
    case 'Cast': {
      const to = node.attrs.to;
      return [to && to.type === 'int' ? dtypeFromCode(to.value) : undefined];
    }
    case 'CastLike':
      return [node.inputs[1] ? inputDtype(node.inputs[1]) : undefined];
    case 'Constant': {
      const v = node.attrs.value;
      if (v && v.type === 'tensor') return [v.value.dtype];
      if (node.attrs.value_float || node.attrs.value_floats) return ['float32'];
      if (node.attrs.value_int || node.attrs.value_ints) return ['int64'];
      return [undefined];
    }
    case 'ConstantOfShape': {
      const v = node.attrs.value;
      return [v && v.type === 'tensor' ? v.value.dtype : 'float32'];
    }
    case 'Where':
      return [node.inputs[1] ? inputDtype(node.inputs[1]) : undefined];
    case 'OneHot':
      return [node.inputs[2] ? inputDtype(node.inputs[2]) : undefined];
    case 'TopK':
      return [first, 'int64'];
    case 'LayerNormalization':
      return node.outputs.map((_, i) => (i === 0 ? first : 'float32'));
    default:
      return node.outputs.map(() => first);
  }
}

export function inferDtypes(g: Graph): Map<string, DType> {
  const types = new Map<string, DType>();
  for (const i of g.inputs) types.set(i.name, i.dtype);
  for (const [name, t] of g.initializers) types.set(name, t.dtype);
  for (const [name, v] of g.valueInfo) types.set(name, v.dtype);
  for (const n of topoSort(g)) {
    const outs = nodeOutputDtypes(n, (name) => types.get(name));
    n.outputs.forEach((o, i) => {
      const t = outs[i];
      if (o && t && !types.has(o)) types.set(o, t);
    });
  }
  return types;
}

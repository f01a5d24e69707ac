/**
 * Raising a model's default-domain opset where that changes no node's meaning. Our own graphs
 * (losses, gradient scatters with reduction) need opset 16+, and get merged with exports at opset
 * 14; most ops only gained types between those versions. Ops whose semantics changed are listed
 * with the version that changed them, and an upgrade across such a change is refused by name.
 */
import { AppError } from '../../shared/errors.js';
import { defaultOpset, type Model, type Node } from './ir.js';

/** Versions (above 13) at which an op's behaviour for existing models changed. */
const BREAKS: Record<string, number[]> = {
  Resize: [18, 19],
  ReduceMean: [18],
  ReduceMax: [18],
  ReduceMin: [18],
  ReduceProd: [18],
  ReduceL1: [18],
  ReduceL2: [18],
  ReduceLogSum: [18],
  ReduceLogSumExp: [18],
  ReduceSumSquare: [18],
  GroupNormalization: [21],
  Pad: [19],
};

/** Ops known to keep their meaning from opset 13 up to 21 (only new types or optional inputs). */
const STABLE = new Set(
  (
    'Add Sub Mul Div Pow Sqrt Neg Exp Log Erf Sigmoid Tanh Softmax LogSoftmax MatMul Gemm Conv ConvTranspose Reshape Transpose ' +
    'Concat Slice Unsqueeze Squeeze Flatten Expand Gather GatherElements GatherND Cast Identity Where InstanceNormalization ' +
    'LayerNormalization ReduceSum Shape Size Constant ConstantOfShape Range Equal Less LessOrEqual Greater GreaterOrEqual ' +
    'Not And Or Xor Sin Cos Abs Reciprocal Relu LeakyRelu Clip Floor Ceil Round Sign Min Max Sum Mean ArgMax ArgMin Tile ' +
    'Trilu CumSum ScatterND ScatterElements OneHot Dropout Einsum TopK NonZero IsNaN IsInf Mod BatchNormalization ' +
    'MaxPool AveragePool GlobalAveragePool GlobalMaxPool Gelu Split Pad ' +
    Object.keys(BREAKS).join(' ')
  ).split(/\s+/),
);

function check(node: Node, from: number, to: number): string | null {
  if (node.domain && node.domain !== 'ai.onnx') return `node '${node.name}' is in domain '${node.domain}'`;
  if (!STABLE.has(node.opType)) return `op ${node.opType} (node '${node.name}') is not known to be stable across opsets`;
  const breaks = (BREAKS[node.opType] ?? []).filter((v) => v > from && v <= to);
  if (breaks.length) return `op ${node.opType} (node '${node.name}') changed meaning in opset ${breaks.join(', ')}`;
  if (node.opType === 'Split' && to >= 18 && from < 18 && node.inputs.length < 2 && !node.attrs.num_outputs) {
    return `Split node '${node.name}' splits evenly without sizes, which opset 18 requires as num_outputs`;
  }
  return null;
}

/** The model at `target` opset (unchanged if already there or above). */
export function upgradeOpset(model: Model, target: number): Model {
  const from = defaultOpset(model);
  if (from >= target) return model;
  const problems = model.graph.nodes.map((n) => check(n, from, target)).filter((p): p is string => p !== null);
  if (problems.length) {
    throw new AppError('ONNX_UNSUPPORTED', `${model.source}: cannot raise opset ${from} to ${target}: ${problems.slice(0, 5).join('; ')}`);
  }
  return {
    ...model,
    opsets: model.opsets.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { ...o, version: target } : o)),
    irVersion: Math.max(model.irVersion, 8),
  };
}

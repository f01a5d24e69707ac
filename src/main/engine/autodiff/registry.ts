/**
 * The gradient-rule registry, built from an explicit list. Duplicates are a bug; a missing rule
 * is an error naming the op and the node, and so is asking for a forbidden one.
 */
import { AppError } from '../../shared/errors.js';
import type { Node } from '../onnx/ir.js';
import { forbiddenRules } from './forbidden-rules.js';
import type { BuildRule, GradRule, ZeroRule } from './rule.js';
import { Abs } from './rules/Abs.js';
import { Add } from './rules/Add.js';
import { Cast } from './rules/Cast.js';
import { Concat } from './rules/Concat.js';
import { Conv } from './rules/Conv.js';
import { Cos } from './rules/Cos.js';
import { Div } from './rules/Div.js';
import { Dropout } from './rules/Dropout.js';
import { Erf } from './rules/Erf.js';
import { Exp } from './rules/Exp.js';
import { Expand } from './rules/Expand.js';
import { Flatten } from './rules/Flatten.js';
import { Gather } from './rules/Gather.js';
import { Gemm } from './rules/Gemm.js';
import { GroupNormalization } from './rules/GroupNormalization.js';
import { Identity } from './rules/Identity.js';
import { InstanceNormalization } from './rules/InstanceNormalization.js';
import { LayerNormalization } from './rules/LayerNormalization.js';
import { Log } from './rules/Log.js';
import { LogSoftmax } from './rules/LogSoftmax.js';
import { MatMul } from './rules/MatMul.js';
import { Mul } from './rules/Mul.js';
import { Neg } from './rules/Neg.js';
import { Pad } from './rules/Pad.js';
import { Pow } from './rules/Pow.js';
import { Reciprocal } from './rules/Reciprocal.js';
import { ReduceMax } from './rules/ReduceMax.js';
import { ReduceMean } from './rules/ReduceMean.js';
import { ReduceSum } from './rules/ReduceSum.js';
import { Relu } from './rules/Relu.js';
import { Reshape } from './rules/Reshape.js';
import { Resize } from './rules/Resize.js';
import { Sigmoid } from './rules/Sigmoid.js';
import { Sin } from './rules/Sin.js';
import { Slice } from './rules/Slice.js';
import { Softmax } from './rules/Softmax.js';
import { Split } from './rules/Split.js';
import { Sqrt } from './rules/Sqrt.js';
import { Squeeze } from './rules/Squeeze.js';
import { Sub } from './rules/Sub.js';
import { Sum } from './rules/Sum.js';
import { Tanh } from './rules/Tanh.js';
import { Transpose } from './rules/Transpose.js';
import { Unsqueeze } from './rules/Unsqueeze.js';
import { Where } from './rules/Where.js';
import { zeroRules } from './zero-rules.js';

export const GRADIENT_RULES: readonly GradRule[] = [
  Abs,
  Add,
  Cast,
  Concat,
  Conv,
  Cos,
  Div,
  Dropout,
  Erf,
  Exp,
  Expand,
  Flatten,
  Gather,
  Gemm,
  GroupNormalization,
  Identity,
  InstanceNormalization,
  LayerNormalization,
  Log,
  LogSoftmax,
  MatMul,
  Mul,
  Neg,
  Pad,
  Pow,
  Reciprocal,
  ReduceMax,
  ReduceMean,
  ReduceSum,
  Relu,
  Reshape,
  Resize,
  Sigmoid,
  Sin,
  Slice,
  Softmax,
  Split,
  Sqrt,
  Squeeze,
  Sub,
  Sum,
  Tanh,
  Transpose,
  Unsqueeze,
  Where,
  ...zeroRules,
  ...forbiddenRules,
];

function buildRegistry(rules: readonly GradRule[]): Map<string, GradRule> {
  const m = new Map<string, GradRule>();
  for (const r of rules) {
    if (m.has(r.opType)) throw new Error(`gradient rule for ${r.opType} is registered twice`);
    if (r.kind === 'build' && typeof r.build !== 'function') throw new Error(`gradient rule for ${r.opType} has no build function`);
    if (r.kind === 'forbidden' && !r.why) throw new Error(`forbidden gradient rule for ${r.opType} does not say why`);
    m.set(r.opType, r);
  }
  return m;
}

const registry = buildRegistry(GRADIENT_RULES);

/** The rule for a node, or an error naming the op type and node. */
export function ruleFor(node: Node, opset: number): GradRule {
  const r = node.domain && node.domain !== 'ai.onnx' ? undefined : registry.get(node.opType);
  if (!r) {
    throw new AppError('NO_GRADIENT_RULE', `no gradient rule for op ${node.opType}${node.domain ? ` (domain ${node.domain})` : ''} at node '${node.name}'`);
  }
  if (opset < r.opsets[0] || opset > r.opsets[1]) {
    throw new AppError('NO_GRADIENT_RULE', `the gradient rule for ${node.opType} covers opsets ${r.opsets[0]}-${r.opsets[1]}; node '${node.name}' is in opset ${opset}`);
  }
  return r;
}

/**
 * The rule for a node on the differentiated path: a missing rule, an uncovered opset and a
 * forbidden op are errors naming the op type and the node.
 */
export function ruleOnPath(node: Node, opset: number): BuildRule | ZeroRule {
  const r = ruleFor(node, opset);
  if (r.kind === 'forbidden') {
    throw new AppError('NO_GRADIENT_RULE', `the gradient of op ${node.opType} at node '${node.name}' must not be asked for: ${r.why}`);
  }
  return r;
}

/**
 * The op registry, built from an explicit list of the op files in this folder (one per ONNX op
 * type, default domain). Duplicates are a bug; a missing rule is an error naming the op and the node.
 * Gradient rules are registered the same way in engine/autodiff/registry.ts.
 */
import { AppError } from '../../../shared/errors.js';
import type { Node } from '../ir.js';
import type { OpDef } from './op.js';
import { Abs } from './Abs.js';
import { Acos } from './Acos.js';
import { Acosh } from './Acosh.js';
import { Add } from './Add.js';
import { And } from './And.js';
import { ArgMax } from './ArgMax.js';
import { ArgMin } from './ArgMin.js';
import { Asin } from './Asin.js';
import { Asinh } from './Asinh.js';
import { Atan } from './Atan.js';
import { Atanh } from './Atanh.js';
import { AveragePool } from './AveragePool.js';
import { BitwiseNot } from './BitwiseNot.js';
import { Cast } from './Cast.js';
import { CastLike } from './CastLike.js';
import { Ceil } from './Ceil.js';
import { Celu } from './Celu.js';
import { Clip } from './Clip.js';
import { Concat } from './Concat.js';
import { Constant } from './Constant.js';
import { ConstantOfShape } from './ConstantOfShape.js';
import { Conv } from './Conv.js';
import { ConvTranspose } from './ConvTranspose.js';
import { Cos } from './Cos.js';
import { Cosh } from './Cosh.js';
import { CumSum } from './CumSum.js';
import { Div } from './Div.js';
import { Dropout } from './Dropout.js';
import { Elu } from './Elu.js';
import { Equal } from './Equal.js';
import { Erf } from './Erf.js';
import { Exp } from './Exp.js';
import { Expand } from './Expand.js';
import { Flatten } from './Flatten.js';
import { Floor } from './Floor.js';
import { Gather } from './Gather.js';
import { GatherElements } from './GatherElements.js';
import { GatherND } from './GatherND.js';
import { Gelu } from './Gelu.js';
import { Gemm } from './Gemm.js';
import { GlobalAveragePool } from './GlobalAveragePool.js';
import { GlobalMaxPool } from './GlobalMaxPool.js';
import { Greater } from './Greater.js';
import { GreaterOrEqual } from './GreaterOrEqual.js';
import { GroupNormalization } from './GroupNormalization.js';
import { HardSigmoid } from './HardSigmoid.js';
import { HardSwish } from './HardSwish.js';
import { Hardmax } from './Hardmax.js';
import { Identity } from './Identity.js';
import { InstanceNormalization } from './InstanceNormalization.js';
import { IsInf } from './IsInf.js';
import { IsNaN } from './IsNaN.js';
import { LayerNormalization } from './LayerNormalization.js';
import { LeakyRelu } from './LeakyRelu.js';
import { Less } from './Less.js';
import { LessOrEqual } from './LessOrEqual.js';
import { Log } from './Log.js';
import { LogSoftmax } from './LogSoftmax.js';
import { LpNormalization } from './LpNormalization.js';
import { MatMul } from './MatMul.js';
import { Max } from './Max.js';
import { MaxPool } from './MaxPool.js';
import { Mean } from './Mean.js';
import { MeanVarianceNormalization } from './MeanVarianceNormalization.js';
import { Min } from './Min.js';
import { Mish } from './Mish.js';
import { Mod } from './Mod.js';
import { Mul } from './Mul.js';
import { Neg } from './Neg.js';
import { Not } from './Not.js';
import { OneHot } from './OneHot.js';
import { Or } from './Or.js';
import { PRelu } from './PRelu.js';
import { Pad } from './Pad.js';
import { Pow } from './Pow.js';
import { Range } from './Range.js';
import { Reciprocal } from './Reciprocal.js';
import { ReduceL1 } from './ReduceL1.js';
import { ReduceL2 } from './ReduceL2.js';
import { ReduceLogSum } from './ReduceLogSum.js';
import { ReduceLogSumExp } from './ReduceLogSumExp.js';
import { ReduceMax } from './ReduceMax.js';
import { ReduceMean } from './ReduceMean.js';
import { ReduceMin } from './ReduceMin.js';
import { ReduceProd } from './ReduceProd.js';
import { ReduceSum } from './ReduceSum.js';
import { ReduceSumSquare } from './ReduceSumSquare.js';
import { Relu } from './Relu.js';
import { Reshape } from './Reshape.js';
import { Resize } from './Resize.js';
import { Round } from './Round.js';
import { ScatterElements } from './ScatterElements.js';
import { ScatterND } from './ScatterND.js';
import { Selu } from './Selu.js';
import { Shape } from './Shape.js';
import { Shrink } from './Shrink.js';
import { Sigmoid } from './Sigmoid.js';
import { Sign } from './Sign.js';
import { Sin } from './Sin.js';
import { Sinh } from './Sinh.js';
import { Size } from './Size.js';
import { Slice } from './Slice.js';
import { Softmax } from './Softmax.js';
import { Softplus } from './Softplus.js';
import { Softsign } from './Softsign.js';
import { Split } from './Split.js';
import { Sqrt } from './Sqrt.js';
import { Squeeze } from './Squeeze.js';
import { Sub } from './Sub.js';
import { Sum } from './Sum.js';
import { Tan } from './Tan.js';
import { Tanh } from './Tanh.js';
import { ThresholdedRelu } from './ThresholdedRelu.js';
import { Tile } from './Tile.js';
import { TopK } from './TopK.js';
import { Transpose } from './Transpose.js';
import { Trilu } from './Trilu.js';
import { Unsqueeze } from './Unsqueeze.js';
import { Where } from './Where.js';
import { Xor } from './Xor.js';

export const OPS: readonly OpDef[] = [
  Abs,
  Acos,
  Acosh,
  Add,
  And,
  ArgMax,
  ArgMin,
  Asin,
  Asinh,
  Atan,
  Atanh,
  AveragePool,
  BitwiseNot,
  Cast,
  CastLike,
  Ceil,
  Celu,
  Clip,
  Concat,
  Constant,
  ConstantOfShape,
  Conv,
  ConvTranspose,
  Cos,
  Cosh,
  CumSum,
  Div,
  Dropout,
  Elu,
  Equal,
  Erf,
  Exp,
  Expand,
  Flatten,
  Floor,
  Gather,
  GatherElements,
  GatherND,
  Gelu,
  Gemm,
  GlobalAveragePool,
  GlobalMaxPool,
  Greater,
  GreaterOrEqual,
  GroupNormalization,
  HardSigmoid,
  HardSwish,
  Hardmax,
  Identity,
  InstanceNormalization,
  IsInf,
  IsNaN,
  LayerNormalization,
  LeakyRelu,
  Less,
  LessOrEqual,
  Log,
  LogSoftmax,
  LpNormalization,
  MatMul,
  Max,
  MaxPool,
  Mean,
  MeanVarianceNormalization,
  Min,
  Mish,
  Mod,
  Mul,
  Neg,
  Not,
  OneHot,
  Or,
  PRelu,
  Pad,
  Pow,
  Range,
  Reciprocal,
  ReduceL1,
  ReduceL2,
  ReduceLogSum,
  ReduceLogSumExp,
  ReduceMax,
  ReduceMean,
  ReduceMin,
  ReduceProd,
  ReduceSum,
  ReduceSumSquare,
  Relu,
  Reshape,
  Resize,
  Round,
  ScatterElements,
  ScatterND,
  Selu,
  Shape,
  Shrink,
  Sigmoid,
  Sign,
  Sin,
  Sinh,
  Size,
  Slice,
  Softmax,
  Softplus,
  Softsign,
  Split,
  Sqrt,
  Squeeze,
  Sub,
  Sum,
  Tan,
  Tanh,
  ThresholdedRelu,
  Tile,
  TopK,
  Transpose,
  Trilu,
  Unsqueeze,
  Where,
  Xor,
];

/** Op definitions by op type, with lookups that name the op and node of a missing rule. */
export interface OpRegistry {
  /** The shape rule of a node's op, or an ONNX_UNSUPPORTED error naming the op and the node. */
  shapeRule(node: Node): OpDef['infer'];
  /** Whether nodes of this op type (default domain) can be folded on constant inputs. */
  canFold(opType: string): boolean;
  /** The folding rule of a node's op, or an error naming the op and the node (ask canFold first). */
  foldRule(node: Node): NonNullable<OpDef['fold']>;
  /** Op types with a definition. */
  opTypes(): string[];
}

const domainNote = (node: Node) => (node.domain ? ` (domain ${node.domain})` : '');

/** A registry over `ops`; throws when an op type is defined twice. */
export function buildOpRegistry(ops: readonly OpDef[]): OpRegistry {
  const m = new Map<string, OpDef>();
  for (const op of ops) {
    if (m.has(op.opType)) throw new Error(`op ${op.opType} is registered twice`);
    if (typeof op.infer !== 'function') throw new Error(`op ${op.opType} has no shape rule`);
    m.set(op.opType, op);
  }
  // Only the default ONNX domain is defined: an op of another domain has no rule whatever its name.
  const get = (node: Node) => (node.domain && node.domain !== 'ai.onnx' ? undefined : m.get(node.opType));
  return {
    shapeRule(node) {
      const op = get(node);
      if (!op) throw new AppError('ONNX_UNSUPPORTED', `node '${node.name}': shape inference does not know op ${node.opType}${domainNote(node)}`);
      return op.infer;
    },
    canFold: (opType) => !!m.get(opType)?.fold,
    foldRule(node) {
      const fold = get(node)?.fold;
      if (!fold) throw new AppError('ONNX_UNSUPPORTED', `node '${node.name}': no constant-folding rule for op ${node.opType}${domainNote(node)}`);
      return fold;
    },
    opTypes: () => [...m.keys()],
  };
}

/** The registry of every op the toolkit knows. */
export const opRegistry: OpRegistry = buildOpRegistry(OPS);

/**
 * Concrete shape inference: given every input's dtype and dimensions (and the values of small
 * constant inputs such as Reshape targets), the dtype and dimensions of every output. Covers the
 * ops of Stable Diffusion, CLIP and DINOv2 exports (opset 13-18) and the ops our gradient rules emit.
 * Each op's rule lives in its own file under ops/ (registry.ts lists them); this module builds the
 * rule's context and dispatches.
 */
import type { DType } from './dtypes.js';
import { nodeOutputDtypes } from './dtype-infer.js';
import type { Node } from './ir.js';
import type { InferContext, Shape, TensorInfo } from './ops/op.js';
import { opRegistry } from './ops/registry.js';
import { constInts, shapeError } from './ops/shape-helpers.js';

export type { ConstVal, Shape, TensorInfo } from './ops/op.js';
// Shape arithmetic the gradient rules share with the op rules.
export { REDUCE_AXES_INPUT_OPSET, reduceAxes, sliceParams } from './ops/shape-helpers.js';

/**
 * Infers the outputs of one node; `ins[i]` is undefined for an omitted optional input. An op
 * without a shape rule is an ONNX_UNSUPPORTED error naming the op and the node.
 */
export function inferNode(node: Node, ins: (TensorInfo | undefined)[], opset: number): { dtype: DType; dims: Shape }[] {
  const rule = opRegistry.shapeRule(node);
  const dtypes = nodeOutputDtypes(node, (name) => ins[node.inputs.indexOf(name)]?.dtype);
  const ctx: InferContext = {
    node,
    ins,
    opset,
    need(i) {
      const t = ins[i];
      if (!t) throw shapeError(node, `input ${i} is missing`);
      return t;
    },
    one(dims, dtype = dtypes[0]) {
      if (!dtype) throw shapeError(node, 'cannot tell the output type');
      return [{ dtype, dims }];
    },
    constInts: (i, what) => constInts(node, ins, i, what),
  };
  return rule(ctx);
}

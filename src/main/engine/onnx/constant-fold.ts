/**
 * Evaluates small constant subgraphs on the host during specialisation (shape arithmetic,
 * masks, index tables). Values are plain number arrays; float32 results are rounded to float32
 * after every op so folded values equal what ONNX Runtime would compute. Each op's folding rule
 * lives in its own file under ops/ (registry.ts lists them); this module dispatches.
 */
import { AppError } from '../../shared/errors.js';
import type { DType } from './dtypes.js';
import type { Node } from './ir.js';
import type { ConstVal, FoldContext } from './ops/op.js';
import { OPS, opRegistry } from './ops/registry.js';

export { constFromTensor } from './ops/fold-helpers.js';

/**
 * Op types folded on constant inputs: those with a folding rule, and Shape and Size, whose values
 * specialisation takes from shapes alone.
 */
export const EVALUABLE: ReadonlySet<string> = new Set([...OPS.filter((op) => op.fold).map((op) => op.opType), 'Shape', 'Size']);

/**
 * Evaluates `node` on constant inputs; `outInfo` comes from shape inference. Returns null when this
 * form of the op is not folded (a Constant of an unusual form, Shape and Size); an op without a
 * folding rule is an error naming the op and the node.
 */
export function evalNode(node: Node, ins: (ConstVal | undefined)[], outInfo: { dtype: DType; dims: number[] }[], opset: number): ConstVal[] | null {
  if (node.opType === 'Shape' || node.opType === 'Size') return null; // handled from shapes by the caller
  const fold = opRegistry.foldRule(node);
  const ctx: FoldContext = {
    node,
    ins,
    out: outInfo,
    opset,
    input(i) {
      const t = ins[i];
      if (!t) throw new AppError('ONNX_INVALID', `node '${node.name}' (${node.opType}): input ${i} has no constant value to fold`);
      return t;
    },
  };
  return fold(ctx);
}

/**
 * What the toolkit knows about one ONNX op besides its gradient: how to infer its outputs' types
 * and shapes, and (for ops worth evaluating on the host) how to fold it on constant inputs.
 * One file per op type in this folder, named after it; the registry (registry.ts) lists them.
 * The gradient rule of the same op lives in engine/autodiff/rules/<Op>.ts (it builds graph nodes,
 * which this layer must not depend on).
 */
import type { DType } from '../dtypes.js';
import type { Node } from '../ir.js';

export type Shape = number[];

/** Values of small tensors as plain numbers (int64 included; bool as 0/1). */
export interface ConstVal {
  dtype: DType;
  dims: number[];
  v: number[];
}

export interface TensorInfo {
  dtype: DType;
  dims: number[];
  /** Known value (for small constant-foldable tensors). */
  value?: ConstVal;
}

/** Type and dimensions of one output. */
export interface OutInfo {
  dtype: DType;
  dims: Shape;
}

/** What a shape rule sees of the node it infers. */
export interface InferContext {
  readonly node: Node;
  /** Input i's type, dims and known value; undefined for an omitted optional input. */
  readonly ins: readonly (TensorInfo | undefined)[];
  readonly opset: number;
  /** Input i, or an error saying it is missing. */
  need(i: number): TensorInfo;
  /** The single output: `dims` with the op's output type (or `dtype`). */
  one(dims: Shape, dtype?: DType): OutInfo[];
  /** The value of constant int input i, undefined when omitted, an error when not constant. */
  constInts(i: number, what: string): number[] | undefined;
}

/** What a folding rule sees: every present input has a known value. */
export interface FoldContext {
  readonly node: Node;
  readonly ins: readonly (ConstVal | undefined)[];
  /** Output types and dims, from shape inference. */
  readonly out: readonly OutInfo[];
  readonly opset: number;
  /** Input i's value, or an error saying it has none. */
  input(i: number): ConstVal;
}

/** Everything the toolkit knows about one op type (default ONNX domain). */
export interface OpDef {
  opType: string;
  /** Output types and dims from the inputs' (and small constant inputs' values). */
  infer(ctx: InferContext): OutInfo[];
  /** Values of the outputs on constant inputs; null when this form of the op is not folded. */
  fold?(ctx: FoldContext): ConstVal[] | null;
}

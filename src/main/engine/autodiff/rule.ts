/** The shape of one gradient rule: one file per ONNX op type under rules/. */
import type { RuleContext } from './context.js';

interface RuleBase {
  /** ONNX op type (default domain). */
  opType: string;
  /** Inclusive opset range whose semantics the rule implements. */
  opsets: [number, number];
}

/** `build` emits the gradient nodes of the inputs that need one. */
export interface BuildRule extends RuleBase {
  kind: 'build';
  build(ctx: RuleContext): void;
}

/** No gradient flows through the op (Shape, comparisons, rounding, index outputs): emit nothing. */
export interface ZeroRule extends RuleBase {
  kind: 'zero';
}

/**
 * Asking for this op's gradient is a bug (ORT's SHOULD_NOT_DO_GRADIENT): a zero would be silently
 * wrong and no formula applies. `why` says so to the user, and what to do instead.
 */
export interface ForbiddenRule extends RuleBase {
  kind: 'forbidden';
  why: string;
}

export type GradRule = BuildRule | ZeroRule | ForbiddenRule;

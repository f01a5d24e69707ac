/** The shape of one gradient rule: one file per ONNX op type under rules/. */
import type { RuleContext } from './context.js';

export interface GradRule {
  /** ONNX op type (default domain). */
  opType: string;
  /** Inclusive opset range whose semantics the rule implements. */
  opsets: [number, number];
  /**
   * 'zero': no gradient flows through this op (comparisons, rounding, index outputs);
   * otherwise `build` emits the gradient nodes.
   */
  kind?: 'zero';
  build?(ctx: RuleContext): void;
}

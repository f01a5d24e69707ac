/** Ops through which no gradient flows: comparisons, rounding, index and shape producers. */
import type { GradRule } from './rule.js';

const ZERO_OPS = [
  'Shape', 'Size', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor',
  'ArgMax', 'ArgMin', 'Floor', 'Ceil', 'Round', 'Sign', 'NonZero', 'OneHot', 'Range', 'ConstantOfShape',
  'IsNaN', 'IsInf',
];

export const zeroRules: GradRule[] = ZERO_OPS.map((opType) => ({ opType, opsets: [1, 99], kind: 'zero' }));

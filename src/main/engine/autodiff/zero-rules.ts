/**
 * Ops through which no gradient flows: comparisons, rounding, index and shape producers.
 * Only ops whose gradient is truly zero belong here. Range and OneHot are not: their float operands
 * move the output. Range is forbidden (forbidden-rules.ts); OneHot has no rule, so a OneHot on the
 * differentiated path is reported as such instead of passing a wrong zero.
 */
import type { ZeroRule } from './rule.js';

const ZERO_OPS = [
  'Shape',
  'Size',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'ArgMax',
  'ArgMin',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'NonZero',
  'ConstantOfShape',
  'IsNaN',
  'IsInf',
];

export const zeroRules: ZeroRule[] = ZERO_OPS.map((opType) => ({ opType, opsets: [1, 99], kind: 'zero' }));

/**
 * Ops whose gradient must never be asked for (ORT's SHOULD_NOT_DO_GRADIENT): on a differentiated
 * path they are a bug in the graph, and calling them "zero" would hide it behind a wrong gradient.
 */
import type { ForbiddenRule } from './rule.js';

const RANDOM =
  'a random op on the differentiated path makes the function non-deterministic, so its gradient ' +
  '(and any finite-difference check of it) is meaningless; sample the noise outside the graph and feed it as an input';

const FORBIDDEN: [string, string][] = [
  // The engine draws its noise on the host (seeded, see sd4match/features/pipeline.ts) and feeds it in.
  ['RandomNormalLike', RANDOM],
  ['RandomUniformLike', RANDOM],
  ['Bernoulli', RANDOM],
  [
    'Range',
    'Range with float operands changes its length discontinuously with start, limit and delta, and a zero ' +
      'gradient for start and delta would be wrong; build positions from an integer Range (then Cast, Mul, Add)',
  ],
];

export const forbiddenRules: ForbiddenRule[] = FORBIDDEN.map(([opType, why]) => ({ opType, opsets: [1, 99], kind: 'forbidden', why }));

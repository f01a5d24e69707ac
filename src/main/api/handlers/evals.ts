/**
 * Handlers of `evals:*`: an evaluation and the PCK tables map to services/evaluation/evaluations.ts,
 * timestep sweeps to services/sweeps/sweeps.ts.
 */
import * as evaluation from '../../services/evaluation/evaluations.js';
import * as sweeps from '../../services/sweeps/sweeps.js';
import type { DomainHandlers } from '../handler-types.js';

type EvalMethod = 'evals:start' | 'evals:table' | 'evals:csv' | 'evals:sweep' | 'evals:sweeps' | 'evals:sweepResult';

export const evalHandlers: DomainHandlers<EvalMethod> = {
  'evals:start': (a, ctx) => evaluation.startEvaluation(ctx, a),
  'evals:table': (a, ctx) => evaluation.pckTableOf(ctx, a),
  'evals:csv': (a, ctx) => evaluation.pckCsv(ctx, a),
  'evals:sweep': (a, ctx) => sweeps.startSweep(ctx, a),
  'evals:sweeps': ({ datasetId }, ctx) => sweeps.listSweeps(ctx, datasetId),
  'evals:sweepResult': ({ sweepId }, ctx) => sweeps.sweepResult(ctx, sweepId),
};

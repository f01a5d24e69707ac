/**
 * Handlers of `runs:*`: listing, metrics, cancel and delete map to services/runs/runs.ts; a run's
 * start, resume and memory estimate to training's use cases (services/training/training.ts).
 */
import * as runs from '../../services/runs/runs.js';
import * as training from '../../services/training/training.js';
import type { DomainHandlers } from '../handler-types.js';

type RunMethod = 'runs:list' | 'runs:get' | 'runs:metrics' | 'runs:train' | 'runs:estimate' | 'runs:resume' | 'runs:cancel' | 'runs:delete';

export const runHandlers: DomainHandlers<RunMethod> = {
  'runs:list': (a, ctx) => runs.listRuns(ctx, a),
  'runs:get': ({ id }, ctx) => runs.runDetails(ctx, id),
  'runs:metrics': (a, ctx) => runs.runMetrics(ctx, a),
  'runs:train': (a, ctx) => training.startTraining(ctx, a),
  'runs:estimate': (a, ctx) => training.estimateTraining(ctx, a),
  'runs:resume': ({ id }, ctx) => training.resumeTraining(ctx, id),
  'runs:cancel': ({ id }, ctx) => runs.cancelRun(ctx, id),
  'runs:delete': ({ id }, ctx) => runs.deleteRun(ctx, id),
};

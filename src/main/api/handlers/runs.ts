/** Handlers of runs, prompts, evaluations and Compare: each calls one use case of services/runs.ts. */
import * as svc from '../../services/runs/runs.js';
import type { DomainHandlers } from '../handlers.js';

type RunMethod =
  | 'runs:list'
  | 'runs:get'
  | 'runs:metrics'
  | 'runs:train'
  | 'runs:estimate'
  | 'runs:resume'
  | 'runs:cancel'
  | 'runs:delete'
  | 'prompts:list'
  | 'evals:start'
  | 'evals:table'
  | 'evals:csv'
  | 'compare:pairs'
  | 'compare:pair'
  | 'compare:predict'
  | 'compare:heatmap'
  | 'compare:estimate';

export const runHandlers: DomainHandlers<RunMethod> = {
  'runs:list': (a, ctx) => svc.listRuns(ctx, a),
  'runs:get': (a, ctx) => svc.runDetails(ctx, a),
  'runs:metrics': (a, ctx) => svc.runMetrics(ctx, a),
  'runs:train': (a, ctx) => svc.startTraining(ctx, a),
  'runs:estimate': (a, ctx) => svc.estimateTraining(ctx, a),
  'runs:resume': (a, ctx) => svc.resumeTraining(ctx, a),
  'runs:cancel': (a, ctx) => svc.cancelRun(ctx, a),
  'runs:delete': (a, ctx) => svc.deleteRun(ctx, a),
  'prompts:list': (a, ctx) => svc.listPrompts(ctx, a),
  'evals:start': (a, ctx) => svc.startEvaluation(ctx, a),
  'evals:table': (a, ctx) => svc.pckTableOf(ctx, a),
  'evals:csv': (a, ctx) => svc.pckCsv(ctx, a),
  'compare:pairs': (a, ctx) => svc.comparePairs(ctx, a),
  'compare:pair': (a, ctx) => svc.comparePair(ctx, a),
  'compare:predict': (a, ctx) => svc.predict(ctx, a),
  'compare:heatmap': (a, ctx) => svc.heatmap(ctx, a),
  'compare:estimate': (a, ctx) => svc.estimateCompare(ctx, a),
};

/** Handlers of generation and timestep sweeps: each calls one use case of services/generate.ts or services/sweeps.ts. */
import * as gen from '../../services/generate/generate.js';
import * as sweeps from '../../services/sweeps/sweeps.js';
import type { DomainHandlers } from '../handlers.js';

type GenerateMethod = 'generate:start' | 'generate:lookup' | 'generate:estimate' | 'evals:sweep' | 'evals:sweeps' | 'evals:sweepResult';

export const generateHandlers: DomainHandlers<GenerateMethod> = {
  'generate:start': (a, ctx) => gen.startGeneration(ctx, a),
  'generate:lookup': (a, ctx) => gen.lookupGallery(ctx, a),
  'generate:estimate': (a, ctx) => gen.estimateGeneration(ctx, a),
  'evals:sweep': (a, ctx) => sweeps.startSweep(ctx, a),
  'evals:sweeps': (a, ctx) => sweeps.listSweeps(ctx, a),
  'evals:sweepResult': (a, ctx) => sweeps.sweepResult(ctx, a),
};

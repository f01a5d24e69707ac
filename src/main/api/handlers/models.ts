/** Handlers of the models domain: each calls one use case of services/models.ts. */
import * as svc from '../../services/models/models.js';
import type { DomainHandlers } from '../handlers.js';

type ModelMethods = 'models:list' | 'models:validate' | 'models:add' | 'models:compile' | 'models:remove';

export const modelHandlers: DomainHandlers<ModelMethods> = {
  'models:list': (_a, ctx) => svc.listModels(ctx),
  'models:validate': (a, ctx) => svc.validateModel(ctx, a),
  'models:add': (a, ctx) => svc.addModel(ctx, a),
  'models:compile': (a, ctx) => svc.startCompile(ctx, a),
  'models:remove': (a, ctx) => svc.removeModel(ctx, a),
};

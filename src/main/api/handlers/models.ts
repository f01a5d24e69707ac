/** Handlers of `models:*`: each maps the contract's arguments to a use case of services/models/models.ts. */
import * as svc from '../../services/models/models.js';
import type { DomainHandlers } from '../handler-types.js';

type ModelMethods = 'models:list' | 'models:validate' | 'models:add' | 'models:compile' | 'models:remove';

export const modelHandlers: DomainHandlers<ModelMethods> = {
  'models:list': (_a, ctx) => svc.listModels(ctx),
  'models:validate': (a, ctx) => svc.validateModel(ctx, a),
  'models:add': (a, ctx) => svc.addModel(ctx, a),
  'models:compile': ({ id }, ctx) => svc.startCompile(ctx, id),
  'models:remove': ({ id }, ctx) => svc.removeModel(ctx, id),
};

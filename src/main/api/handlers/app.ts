/** Handlers of `app:*`: each maps the contract's arguments to a use case of services/app/info.ts. */
import * as svc from '../../services/app/info.js';
import type { DomainHandlers } from '../handler-types.js';

export const appHandlers: DomainHandlers<'app:info' | 'app:paths' | 'app:settings' | 'app:setSettings'> = {
  'app:info': (_a, ctx) => svc.appInfo(ctx),
  'app:paths': (_a, ctx) => svc.appPaths(ctx),
  'app:settings': (_a, ctx) => svc.appSettings(ctx),
  'app:setSettings': (a, ctx) => svc.setAppSettings(ctx, a),
};

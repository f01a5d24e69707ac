/** Handlers of `suggest:*` (matching-assisted annotation): each maps the contract's arguments to a use case of services/suggest/suggest.ts. */
import * as svc from '../../services/suggest/suggest.js';
import { startPrefetch, startSuggestWarm, stopPrefetch } from '../../services/suggest/prefetch.js';
import type { DomainHandlers } from '../handler-types.js';

type SuggestMethod = 'suggest:start' | 'suggest:get' | 'suggest:clear' | 'suggest:queue' | 'suggest:eval' | 'suggest:prefetch' | 'suggest:prefetch-stop';

export const suggestHandlers: DomainHandlers<SuggestMethod> = {
  // a one-image Suggest on a prefetched image is answered warm (services/suggest/prefetch.ts)
  'suggest:start': (a, ctx) => startSuggestWarm(ctx, a),
  'suggest:get': (a, ctx) => svc.getSuggestions(ctx, a),
  'suggest:clear': (a, ctx) => svc.clearSuggestions(ctx, a),
  'suggest:queue': ({ categoryId }, ctx) => svc.suggestQueue(ctx, categoryId),
  'suggest:eval': (a, ctx) => svc.startSuggestEval(ctx, a),
  'suggest:prefetch': (a, ctx) => startPrefetch(ctx, a),
  'suggest:prefetch-stop': (_a, ctx) => stopPrefetch(ctx),
};

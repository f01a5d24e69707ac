/** Handlers of matching-assisted annotation: each calls one use case of services/suggest.ts. */
import * as svc from '../../services/suggest/suggest.js';
import type { DomainHandlers } from '../handlers.js';

type SuggestMethod = 'suggest:start' | 'suggest:get' | 'suggest:clear' | 'suggest:queue' | 'suggest:eval';

export const suggestHandlers: DomainHandlers<SuggestMethod> = {
  'suggest:start': (a, ctx) => svc.startSuggest(ctx, a),
  'suggest:get': (a, ctx) => svc.getSuggestions(ctx, a),
  'suggest:clear': (a, ctx) => svc.clearSuggestions(ctx, a),
  'suggest:queue': (a, ctx) => svc.suggestQueue(ctx, a),
  'suggest:eval': (a, ctx) => svc.startSuggestEval(ctx, a),
};

/** Handlers of `suggest:*` (matching-assisted annotation): each maps the contract's arguments to a use case of services/suggest/suggest.ts. */
import * as svc from '../../services/suggest/suggest.js';
import type { DomainHandlers } from '../handler-types.js';

type SuggestMethod = 'suggest:start' | 'suggest:get' | 'suggest:clear' | 'suggest:queue' | 'suggest:eval';

export const suggestHandlers: DomainHandlers<SuggestMethod> = {
  'suggest:start': (a, ctx) => svc.startSuggest(ctx, a),
  'suggest:get': (a, ctx) => svc.getSuggestions(ctx, a),
  'suggest:clear': (a, ctx) => svc.clearSuggestions(ctx, a),
  'suggest:queue': ({ categoryId }, ctx) => svc.suggestQueue(ctx, categoryId),
  'suggest:eval': (a, ctx) => svc.startSuggestEval(ctx, a),
};

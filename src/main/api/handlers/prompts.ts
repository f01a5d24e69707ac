/** Handlers of `prompts:*`: the prompts a window chooses from (services/prompts/prompts.ts). */
import * as svc from '../../services/prompts/prompts.js';
import type { DomainHandlers } from '../handler-types.js';

export const promptHandlers: DomainHandlers<'prompts:list'> = {
  'prompts:list': ({ datasetId }, ctx) => svc.listPrompts(ctx, datasetId),
};

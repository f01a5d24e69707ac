/** Handlers of the jobs domain. */
import type { DomainHandlers } from '../handlers.js';

export const jobHandlers: DomainHandlers<'jobs:list' | 'jobs:cancel'> = {
  'jobs:list': async (_args, ctx) => ctx.jobs.list(),
  'jobs:cancel': async ({ id }, ctx) => ({ cancelled: ctx.jobs.cancel(id) }),
};

/** Handlers of `jobs:*`: the job manager's list and cancel. */
import type { DomainHandlers } from '../handler-types.js';

export const jobHandlers: DomainHandlers<'jobs:list' | 'jobs:cancel'> = {
  'jobs:list': async (_args, ctx) => ctx.jobs.list(),
  'jobs:cancel': async ({ id }, ctx) => ({ cancelled: ctx.jobs.cancel(id) }),
};

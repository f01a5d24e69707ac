/** Handlers of `jobs:*`: each maps the contract's arguments to a use case of services/jobs/jobs.ts. */
import * as svc from '../../services/jobs/jobs.js';
import type { DomainHandlers } from '../handler-types.js';

export const jobHandlers: DomainHandlers<'jobs:list' | 'jobs:cancel'> = {
  'jobs:list': (_a, ctx) => svc.listJobs(ctx),
  'jobs:cancel': ({ id }, ctx) => svc.cancelJob(ctx, id),
};

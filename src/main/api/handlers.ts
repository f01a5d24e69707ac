/**
 * Transport-agnostic handlers: one async function per contract method, one file per channel
 * prefix (handlers/<prefix>.ts), merged here. They receive arguments that the adapter already
 * validated against the contract's schema, map them to a use case's plain parameters and return
 * plain data or throw an `AppError`; encoding into `{result}` / `{error}` is the transport's job
 * (src/main/transport/).
 */
import { type AppOptions, createApp } from '../services/app/app.js';
import type { EventHub } from '../services/app/events.js';
import type { ApiContext, Handlers } from './handler-types.js';
import { appHandlers } from './handlers/app.js';
import { jobHandlers } from './handlers/jobs.js';
import { modelHandlers } from './handlers/models.js';
import { datasetHandlers } from './handlers/datasets.js';
import { datasetImageHandlers } from './handlers/dataset-images.js';
import { imageHandlers } from './handlers/images.js';
import { fileHandlers } from './handlers/files.js';
import { categoryHandlers } from './handlers/categories.js';
import { annotationHandlers } from './handlers/annotations.js';
import { pairHandlers } from './handlers/pairs.js';
import { runHandlers } from './handlers/runs.js';
import { promptHandlers } from './handlers/prompts.js';
import { evalHandlers } from './handlers/evals.js';
import { compareHandlers } from './handlers/compare.js';
import { suggestHandlers } from './handlers/suggest.js';
import { generateHandlers } from './handlers/generate.js';

export type { ApiContext, DomainHandlers, Handler, Handlers } from './handler-types.js';

export type ApiOptions = AppOptions;

/** The service both transports serve: the handlers plus the event hub they push through. */
export interface Api {
  readonly handlers: Handlers;
  readonly context: ApiContext;
  readonly events: EventHub;
  /** Stops jobs (resumable ones checkpoint) and closes the store. */
  close(): Promise<void>;
}

export const handlers: Handlers = {
  ...appHandlers,
  ...jobHandlers,
  ...modelHandlers,
  ...datasetHandlers,
  ...datasetImageHandlers,
  ...imageHandlers,
  ...fileHandlers,
  ...categoryHandlers,
  ...annotationHandlers,
  ...pairHandlers,
  ...runHandlers,
  ...promptHandlers,
  ...evalHandlers,
  ...compareHandlers,
  ...suggestHandlers,
  ...generateHandlers,
};

export function createApi(options: ApiOptions = {}): Api {
  const app = createApp(options);
  return { handlers, context: app.context, events: app.context.events, close: () => app.close() };
}

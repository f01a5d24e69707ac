/**
 * Transport-agnostic handlers: one async function per contract method, grouped by domain in
 * handlers/<domain>.ts and merged here. They receive arguments that the adapter already validated
 * against the contract's schema, and return plain data or throw an `AppError`; encoding into
 * `{result}` / `{error}` is the transport's job (src/main/transport/).
 */
import { type AppContext, type AppOptions, createApp } from '../services/app/app.js';
import type { EventHub } from '../services/app/events.js';
import type { InvokeMethod, InvokeParsedArgs, InvokeResult } from '../contract/index.js';
import { appHandlers } from './handlers/app.js';
import { jobHandlers } from './handlers/jobs.js';
import { modelHandlers } from './handlers/models.js';
import { datasetHandlers } from './handlers/datasets.js';
import { annotationHandlers } from './handlers/annotations.js';
import { pairHandlers } from './handlers/pairs.js';
import { runHandlers } from './handlers/runs.js';
import { suggestHandlers } from './handlers/suggest.js';
import { generateHandlers } from './handlers/generate.js';

export type ApiOptions = AppOptions;

/** What every handler can reach: the application's services (services/app.ts). */
export type ApiContext = AppContext;

export type Handler<M extends InvokeMethod> = (args: InvokeParsedArgs<M>, ctx: ApiContext) => Promise<InvokeResult<M>>;
export type Handlers = { readonly [M in InvokeMethod]: Handler<M> };
/** A domain's share of the handlers. */
export type DomainHandlers<M extends InvokeMethod> = { readonly [K in M]: Handler<K> };

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
  ...annotationHandlers,
  ...pairHandlers,
  ...runHandlers,
  ...suggestHandlers,
  ...generateHandlers,
};

export function createApi(options: ApiOptions = {}): Api {
  const app = createApp(options);
  return { handlers, context: app.context, events: app.context.events, close: () => app.close() };
}

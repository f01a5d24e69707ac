/**
 * The API contract: every invoke method (`domain:verb`, args -> result) and every pushed event the
 * engine serves, in one place. Electron IPC and the WebSocket server carry exactly this contract.
 *
 * Argument schemas are zod objects, checked once at the transport adapter; handlers trust their
 * typed arguments. Results and event payloads are plain JSON-compatible data (they cross
 * structured clone over IPC and JSON over WebSocket).
 *
 * The preload and the renderer import this module with `import type` only (the renderer may load
 * contract/<domain>.ts modules at run time, e.g. the launch form's schema); keep the contract free
 * of engine imports other than pure constants (engine/sd4match/train-config.ts), so the browser
 * build never pulls Node code in.
 */
import type { z } from 'zod';
import type { SerializedError } from '../shared/errors.js';
import { APP_EVENTS, type AppEvents, appMethods } from './app.js';
import { JOB_EVENTS, type JobEvents, jobMethods } from './jobs.js';
import { MODEL_EVENTS, type ModelEvents, modelMethods } from './models.js';
import { DATASET_EVENTS, type DatasetEvents, datasetMethods } from './datasets.js';
import { datasetImageMethods } from './dataset-images.js';
import { ANNOTATION_EVENTS, type AnnotationEvents, annotationMethods } from './annotations.js';
import { pairMethods } from './pairs.js';
import { RUN_EVENTS, type RunEvents, runMethods } from './runs.js';
import { SUGGEST_EVENTS, type SuggestEvents, suggestMethods } from './suggest.js';
import { GENERATE_EVENTS, type GenerateEvents, generateMethods } from './generate.js';
import type { MethodSpec } from './spec.js';

export type { MethodSpec } from './spec.js';
export type * from './app.js';
export type * from './jobs.js';
export type * from './models.js';
export type * from './datasets.js';
export type * from './dataset-images.js';
export type * from './annotations.js';
export type * from './pairs.js';
export type * from './runs.js';
export type * from './suggest.js';
export type * from './generate.js';

// ---------------------------------------------------------------------------------------------
// Invoke methods: one map per domain (contract/<domain>.ts), merged here
// ---------------------------------------------------------------------------------------------

export const invokeMethods = {
  ...appMethods,
  ...jobMethods,
  ...modelMethods,
  ...datasetMethods,
  ...datasetImageMethods,
  ...annotationMethods,
  ...pairMethods,
  ...runMethods,
  ...suggestMethods,
  ...generateMethods,
} as const;

export type InvokeMethods = typeof invokeMethods;
export type InvokeMethod = keyof InvokeMethods;
/** Arguments as the caller writes them (before schema defaults and transforms). */
export type InvokeArgs<M extends InvokeMethod> = z.input<InvokeMethods[M]['args']>;
/** Arguments as the handler receives them (after validation). */
export type InvokeParsedArgs<M extends InvokeMethod> = z.output<InvokeMethods[M]['args']>;
export type InvokeResult<M extends InvokeMethod> = InvokeMethods[M] extends MethodSpec<z.ZodType, infer R> ? R : never;

/** Methods whose arguments may be omitted (every field optional). */
export type OptionalArgs<M extends InvokeMethod> = Record<never, never> extends InvokeArgs<M> ? [args?: InvokeArgs<M>] : [args: InvokeArgs<M>];

export function isInvokeMethod(name: unknown): name is InvokeMethod {
  return typeof name === 'string' && Object.hasOwn(invokeMethods, name);
}

export const INVOKE_METHOD_NAMES = Object.keys(invokeMethods) as InvokeMethod[];

// ---------------------------------------------------------------------------------------------
// Pushed events (engine -> every connected client)
// ---------------------------------------------------------------------------------------------

/** Event name -> payload. Change a payload's shape by adding a new name with a version suffix. */
export interface EventMap extends AppEvents, JobEvents, ModelEvents, DatasetEvents, AnnotationEvents, RunEvents, SuggestEvents, GenerateEvents {}

export type EventName = keyof EventMap;
export type EventPayload<E extends EventName> = EventMap[E];

export const EVENT_NAMES: readonly EventName[] = [...APP_EVENTS, ...JOB_EVENTS, ...MODEL_EVENTS, ...DATASET_EVENTS, ...ANNOTATION_EVENTS, ...RUN_EVENTS, ...SUGGEST_EVENTS, ...GENERATE_EVENTS];

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && (EVENT_NAMES as readonly string[]).includes(name);
}

// ---------------------------------------------------------------------------------------------
// Encoding on every transport
// ---------------------------------------------------------------------------------------------

/** The explicit encoding of an invoke outcome: Electron IPC only keeps `message` of a thrown error. */
export type Envelope<T> = { result: T } | { error: SerializedError };

// ---------------------------------------------------------------------------------------------
// The object the preload exposes as `window.api`
// ---------------------------------------------------------------------------------------------

export interface BridgeApi {
  /** Calls an invoke method; resolves with the encoded outcome (never rejects for handler errors). */
  invoke<M extends InvokeMethod>(method: M, args: InvokeArgs<M>): Promise<Envelope<InvokeResult<M>>>;
  /** Subscribes to a pushed event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

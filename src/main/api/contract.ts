/**
 * The API contract: every invoke method (`domain:verb`, args -> result) and every pushed event the
 * engine serves, in one place. Electron IPC and the WebSocket server carry exactly this contract.
 *
 * Argument schemas are zod objects, checked once at the transport adapter; handlers trust their
 * typed arguments. Results and event payloads are plain JSON-compatible data (they cross
 * structured clone over IPC and JSON over WebSocket).
 *
 * The preload and the renderer import this module with `import type` only; keep it free of
 * imports from the engine so the browser build never pulls Node code in.
 */
import { z } from 'zod';
import type { SerializedError } from './errors.js';

/** One invoke method: its argument schema, and its result type carried at the type level only. */
export interface MethodSpec<Args extends z.ZodType, Result> {
  readonly args: Args;
  /** Phantom field: never set at run time, only carries the result type. */
  readonly __result?: Result;
}

function method<Result>() {
  return <Args extends z.ZodType>(args: Args): MethodSpec<Args, Result> => ({ args });
}

/** Arguments of a method that takes none: `{}` (extra keys are a caller bug). */
const noArgs = z.object({}).strict();

// ---------------------------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------------------------

/** One execution provider tried while opening the probe session, fastest first. */
export interface ProviderAttemptInfo {
  provider: string;
  ok: boolean;
  /** Why the provider could not be used (absent when it worked). */
  reason?: string;
}

/** What the status area shows about the engine and the runtime it runs on. */
export interface AppInfo {
  engineVersion: string;
  ortVersion: string;
  /** `<os>-<arch>`, e.g. `linux-x64`. */
  platform: string;
  /** The execution provider sessions actually run on (e.g. `cpu`, `cuda`, `webgpu`). */
  provider: string;
  providerAttempts: ProviderAttemptInfo[];
}

// ---------------------------------------------------------------------------------------------
// Invoke methods
// ---------------------------------------------------------------------------------------------

export const invokeMethods = {
  /** Engine and runtime versions and the execution provider in use. */
  'app:info': method<AppInfo>()(noArgs),
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

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A line of engine log the UI may show. */
export interface LogAppended {
  level: LogLevel;
  message: string;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Event name -> payload. Change a payload's shape by adding a new name with a version suffix. */
export interface EventMap {
  'log:appended': LogAppended;
}

export type EventName = keyof EventMap;
export type EventPayload<E extends EventName> = EventMap[E];

export const EVENT_NAMES: readonly EventName[] = ['log:appended'];

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

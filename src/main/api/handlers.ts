/**
 * Transport-agnostic handlers: one async function per contract method. They receive arguments that
 * the adapter already validated against the contract's schema, and return plain data or throw an
 * `AppError`; encoding into `{result}` / `{error}` is the transport's job (src/main/transport/).
 */
import { probeProvider, runtimeInfo } from '../engine/onnx/runtime.js';
import { ENGINE_VERSION } from '../version.js';
import type { AppInfo, InvokeMethod, InvokeParsedArgs, InvokeResult } from './contract.js';
import { EventHub } from './events.js';

export interface ApiOptions {
  /** Path of the SQLite store (used once the store lands). */
  db?: string;
}

/** What every handler can reach. */
export interface ApiContext {
  readonly options: Readonly<ApiOptions>;
  readonly events: EventHub;
}

export type Handler<M extends InvokeMethod> = (args: InvokeParsedArgs<M>, ctx: ApiContext) => Promise<InvokeResult<M>>;
export type Handlers = { readonly [M in InvokeMethod]: Handler<M> };

/** The service both transports serve: the handlers plus the event hub they push through. */
export interface Api {
  readonly handlers: Handlers;
  readonly context: ApiContext;
  readonly events: EventHub;
}

export const handlers: Handlers = {
  'app:info': async (): Promise<AppInfo> => {
    const runtime = runtimeInfo();
    const { provider, attempts } = await probeProvider();
    return {
      engineVersion: ENGINE_VERSION,
      ortVersion: runtime.ortVersion,
      platform: runtime.platform,
      provider,
      providerAttempts: attempts.map((a) => (a.reason === undefined ? { provider: a.provider, ok: a.ok } : { provider: a.provider, ok: a.ok, reason: a.reason })),
    };
  },
};

export function createApi(options: ApiOptions = {}): Api {
  const events = new EventHub();
  const context: ApiContext = { options: { ...options }, events };
  return { handlers, context, events };
}

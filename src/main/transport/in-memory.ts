/**
 * In-memory adapter for tests: the same validation and `{result}` / `{error}` encoding as the real
 * transports, with arguments, results and event payloads passed through a JSON round trip so that
 * anything the wire cannot carry fails here too.
 */
import type { Envelope, EventName, EventPayload, InvokeArgs, InvokeMethod, InvokeResult } from '../contract/index.js';
import type { Api } from '../api/handlers.js';
import { logError } from '../shared/log.js';
import { dispatch } from './dispatch.js';

export interface InMemoryClient {
  /** Typed call; resolves with the envelope exactly as a remote client would receive it. */
  invoke<M extends InvokeMethod>(method: M, args?: InvokeArgs<M>): Promise<Envelope<InvokeResult<M>>>;
  /** Untyped call, for tests of the validation path (unknown methods, bad arguments). */
  invokeRaw(method: unknown, args: unknown): Promise<Envelope<unknown>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Drops every subscription of this client. */
  close(): void;
}

function wire<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function createInMemoryClient(api: Api): InMemoryClient {
  const subscriptions = new Set<() => void>();
  const invokeRaw = async (method: unknown, args: unknown): Promise<Envelope<unknown>> => {
    let sentArgs: unknown;
    try {
      sentArgs = wire(args);
    } catch (err) {
      return { error: { code: 'INVALID_ARGUMENT', message: `arguments are not JSON-serialisable: ${String(err)}` } };
    }
    const envelope = await dispatch(api, method, sentArgs);
    try {
      return wire(envelope);
    } catch (err) {
      logError(`in-memory result of ${typeof method === 'string' ? `'${method}'` : 'an invalid method'}`, err);
      return { error: { code: 'INTERNAL', message: `result is not JSON-serialisable: ${String(err)}` } };
    }
  };
  return {
    invoke: (method, args) => invokeRaw(method, args) as Promise<never>,
    invokeRaw,
    on(event, listener) {
      const off = api.events.on(event, (payload) => listener(wire(payload)));
      subscriptions.add(off);
      return () => {
        off();
        subscriptions.delete(off);
      };
    },
    close() {
      for (const off of subscriptions) off();
      subscriptions.clear();
    },
  };
}

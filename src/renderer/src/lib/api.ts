/**
 * The renderer's API client. In Electron it calls the preload's `window.api` (IPC); in a plain
 * browser it opens a WebSocket to the page's own host with the access token from the page URL
 * (browser mode, `sd4match serve`). Either way it unwraps `{result}` / `{error}` and rethrows
 * errors as `ApiError` with the engine's stable code.
 *
 * Only types come from src/main/api (`import type`): no engine code reaches the browser bundle.
 */
import type { BridgeApi, Envelope, EventName, EventPayload, InvokeArgs, InvokeMethod, InvokeResult, OptionalArgs } from '../../../main/contract/index.js';
import type { ErrorCode } from '../../../main/shared/errors.js';
import type { InvokeFrame, ServerFrame, TokenParam, WsPath } from '../../../main/contract/wire.js';

// Typed against the server's constants: a change there fails the type check here.
const WS_PATH: WsPath = '/api';
const TOKEN_PARAM: TokenParam = 'token';

/** Engine error codes, plus `TRANSPORT` for a connection that could not be made or was lost. */
export type ClientErrorCode = ErrorCode | 'TRANSPORT';

export class ApiError extends Error {
  readonly code: ClientErrorCode;
  /** The method whose call failed, when there was one. */
  readonly method: string | undefined;
  /** The argument the engine blamed (forms show the message next to that input). */
  readonly field: string | undefined;
  constructor(code: ClientErrorCode, message: string, method?: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.method = method;
    this.field = field;
  }
}

export interface ApiClient {
  /** `electron` over IPC, or `browser` over WebSocket. */
  readonly mode: 'electron' | 'browser';
  invoke<M extends InvokeMethod>(method: M, ...args: OptionalArgs<M>): Promise<InvokeResult<M>>;
  /** Subscribes to a pushed event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** URL of a store image by id (a thumbnail fitting in size x size when `size` is given). */
  imageUrl(id: number, size?: number): string;
  /** URL of a generated image (PNG) by id. */
  generatedUrl(id: number): string;
  /**
   * Follows the connection to the engine: called with `null` when it is up and with why it is not
   * when it drops (browser mode; an Electron window's engine goes only with the app). While a
   * listener is registered the client keeps reconnecting.
   */
  onConnection(listener: (lost: string | null) => void): () => void;
}

function unwrap<T>(method: string, envelope: Envelope<T>): T {
  if ('error' in envelope) throw new ApiError(envelope.error.code, envelope.error.message, method, envelope.error.field);
  return envelope.result;
}

/**
 * Turns any error into a line for the UI; null for cancellations, which the user asked for and
 * which need no message.
 */
export function describeError(err: unknown): string | null {
  if (err instanceof ApiError) return err.code === 'CANCELLED' ? null : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

// -------------------------------------------------------------------------------------------------
// Electron: the preload bridge
// -------------------------------------------------------------------------------------------------

function bridgeClient(bridge: BridgeApi): ApiClient {
  return {
    mode: 'electron',
    async invoke<M extends InvokeMethod>(method: M, ...args: OptionalArgs<M>): Promise<InvokeResult<M>> {
      const sent = (args[0] ?? {}) as InvokeArgs<M>;
      let envelope: Envelope<InvokeResult<M>>;
      try {
        envelope = await bridge.invoke(method, sent);
      } catch (err) {
        throw new ApiError('TRANSPORT', `IPC call '${method}' failed: ${err instanceof Error ? err.message : String(err)}`, method);
      }
      return unwrap(method, envelope);
    },
    on: (event, listener) => bridge.on(event, listener),
    // the image protocol registered by the Electron main process (src/main/electron/image-protocol.ts)
    imageUrl: (id, size) => `sd4match-image://image/${id}${size === undefined ? '' : `?size=${size}`}`,
    generatedUrl: (id) => `sd4match-image://generated/${id}`,
    onConnection: () => () => {},
  };
}

// -------------------------------------------------------------------------------------------------
// Browser mode: WebSocket to the serving host
// -------------------------------------------------------------------------------------------------

interface Pending {
  method: string;
  resolve: (envelope: Envelope<unknown>) => void;
  reject: (err: ApiError) => void;
}

type Listener = (payload: never) => void;

class WebSocketClient implements ApiClient {
  readonly mode = 'browser' as const;
  private socket: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<EventName, Set<Listener>>();
  private nextId = 1;
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly connectionListeners = new Set<(lost: string | null) => void>();
  /** Why the connection is down (null while up or never tried). */
  private lost: string | null = null;

  constructor(
    private readonly url: string | null,
    private readonly host: string,
    private readonly token: string | null,
  ) {}

  /** The server's image route; an <img> cannot send headers, so the token rides in the query. */
  imageUrl(id: number, size?: number): string {
    const query = new URLSearchParams();
    if (size !== undefined) query.set('size', String(size));
    if (this.token !== null) query.set(TOKEN_PARAM, this.token);
    return `/images/${id}?${query.toString()}`;
  }

  generatedUrl(id: number): string {
    const query = new URLSearchParams();
    if (this.token !== null) query.set(TOKEN_PARAM, this.token);
    return `/generated/${id}?${query.toString()}`;
  }

  async invoke<M extends InvokeMethod>(method: M, ...args: OptionalArgs<M>): Promise<InvokeResult<M>> {
    const socket = await this.connect();
    const id = this.nextId++;
    const frame: InvokeFrame = { type: 'invoke', id, method, args: args[0] ?? {} };
    const envelope = await new Promise<Envelope<unknown>>((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      try {
        socket.send(JSON.stringify(frame));
      } catch (err) {
        this.pending.delete(id);
        reject(new ApiError('TRANSPORT', `could not send '${method}': ${err instanceof Error ? err.message : String(err)}`, method));
      }
    });
    return unwrap(method, envelope as Envelope<InvokeResult<M>>);
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const entry = listener as Listener;
    set.add(entry);
    // Events only flow while connected: subscribing opens the connection.
    this.connect().catch(() => this.scheduleReconnect());
    return () => {
      set.delete(entry);
    };
  }

  onConnection(listener: (lost: string | null) => void): () => void {
    this.connectionListeners.add(listener);
    this.connect().catch(() => this.scheduleReconnect());
    return () => {
      this.connectionListeners.delete(listener);
    };
  }

  private setLost(lost: string | null): void {
    if (lost === this.lost) return;
    this.lost = lost;
    for (const l of this.connectionListeners) l(lost);
  }

  private connect(): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    if (this.opening) return this.opening;
    const url = this.url;
    if (url === null) {
      return Promise.reject(new ApiError('TRANSPORT', `this page's URL has no access token: open the URL printed by \`sd4match serve\` (it ends in ?${TOKEN_PARAM}=…)`));
    }
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(url);
      let opened = false;
      socket.addEventListener('open', () => {
        opened = true;
        this.socket = socket;
        this.opening = null;
        this.retryMs = 500;
        this.setLost(null);
        resolve(socket);
      });
      socket.addEventListener('message', (e: MessageEvent) => this.receive(e.data));
      socket.addEventListener('close', () => {
        this.socket = null;
        this.opening = null;
        if (!opened) {
          // Browsers hide the HTTP status of a refused upgrade; name the likely causes.
          const why = `cannot connect to the engine at ${this.host}: is \`sd4match serve\` still running, and is this the URL (with its token) it printed?`;
          if (this.lost !== null) this.setLost(why);
          reject(new ApiError('TRANSPORT', why));
          return;
        }
        // said first, so the calls cut off read as part of it (errors.ts keeps them out of toasts)
        this.setLost(`the connection to the engine at ${this.host} was lost; reconnecting…`);
        this.failPending('the connection to the engine was lost');
        if (this.hasListeners()) this.scheduleReconnect();
      });
    });
    return this.opening;
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      console.error('ignoring a malformed frame from the engine');
      return;
    }
    if (frame.type === 'event') {
      for (const listener of this.listeners.get(frame.event) ?? []) {
        try {
          (listener as (payload: unknown) => void)(frame.payload);
        } catch (err) {
          console.error(`listener for '${frame.event}' failed:`, err);
        }
      }
      return;
    }
    if (frame.id === null) {
      // The server could not read one of our frames: a client bug, not a call failure.
      if ('error' in frame) console.error(`engine rejected a frame: ${frame.error.message}`);
      return;
    }
    const pending = this.pending.get(frame.id);
    if (!pending) return;
    this.pending.delete(frame.id);
    pending.resolve('error' in frame ? { error: frame.error } : { result: frame.result });
  }

  private failPending(reason: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new ApiError('TRANSPORT', `'${p.method}' did not complete: ${reason}`, p.method));
    }
  }

  private hasListeners(): boolean {
    if (this.connectionListeners.size > 0) return true;
    for (const set of this.listeners.values()) if (set.size > 0) return true;
    return false;
  }

  private scheduleReconnect(): void {
    if (this.retryTimer !== null || this.url === null) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch(() => this.scheduleReconnect());
    }, delay);
  }
}

/** The WebSocket URL for this page (same host, `ws:`/`wss:` to match), or null without a token. */
export function webSocketUrl(location: Pick<Location, 'protocol' | 'host' | 'search'>): string | null {
  const token = new URLSearchParams(location.search).get(TOKEN_PARAM);
  if (!token) return null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${WS_PATH}?${TOKEN_PARAM}=${encodeURIComponent(token)}`;
}

let client: ApiClient | null = null;

/** The client for this page: IPC inside Electron, WebSocket in a browser. */
export function getApi(): ApiClient {
  client ??= window.api ? bridgeClient(window.api) : new WebSocketClient(webSocketUrl(window.location), window.location.host, new URLSearchParams(window.location.search).get(TOKEN_PARAM));
  return client;
}

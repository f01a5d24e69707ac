/**
 * The WebSocket adapter: serves the API contract over JSON text frames (see src/main/contract/wire.ts)
 * on an existing HTTP server, and pushes every engine event to every connected client.
 *
 * Who may connect is decided by the caller (`verify`): the browser-mode server checks the Host
 * header (421 for a name it was not started for), the access token and the Origin there. This
 * module only speaks the protocol.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { SerializedError } from '../shared/errors.js';
import type { Api } from '../api/handlers.js';
import type { ResponseFrame, ServerFrame } from '../contract/wire.js';
import { logError } from '../shared/log.js';
import { dispatch } from './dispatch.js';

/** Why an upgrade request is refused: the HTTP status and a short reason sent as the body. */
export interface UpgradeRefusal {
  status: 400 | 401 | 403 | 404 | 421;
  reason: string;
}

export interface WsApiOptions {
  /** Request path of the endpoint, e.g. `/api`. Upgrades to other paths get 404. */
  path: string;
  /** Returns null to accept the connection, or why it is refused. */
  verify: (req: IncomingMessage) => UpgradeRefusal | null;
  /** Largest accepted frame in bytes. */
  maxPayload?: number;
  /** Interval of liveness pings; a client that misses one is dropped. 0 disables. */
  heartbeatMs?: number;
}

export interface WsApiServer {
  readonly clientCount: number;
  /** Closes every connection (code 1001) and stops accepting new ones. */
  close(): Promise<void>;
}

const STATUS_TEXT: Record<UpgradeRefusal['status'], string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  421: 'Misdirected Request',
};

function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  const body = `${refusal.reason}\n`;
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}

function protocolError(message: string): SerializedError {
  return { code: 'INVALID_ARGUMENT', message };
}

/** Reads one client frame; returns the invocation or the error to answer with. */
function readFrame(data: RawData, isBinary: boolean): { id: number; method: unknown; args: unknown } | { id: number | null; error: SerializedError } {
  if (isBinary) return { id: null, error: protocolError('binary frames are not supported; send JSON text') };
  let frame: unknown;
  try {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    frame = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { id: null, error: protocolError('malformed frame: not valid JSON') };
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    return { id: null, error: protocolError('malformed frame: expected a JSON object') };
  }
  const f = frame as Record<string, unknown>;
  const id = typeof f.id === 'number' && Number.isSafeInteger(f.id) ? f.id : null;
  if (f.type !== 'invoke') return { id, error: protocolError(`malformed frame: unknown type ${JSON.stringify(f.type)}; expected 'invoke'`) };
  if (id === null) return { id, error: protocolError('malformed frame: "id" must be an integer') };
  return { id, method: f.method, args: f.args };
}

function send(ws: WebSocket, frame: ServerFrame): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  let text: string;
  try {
    text = JSON.stringify(frame);
  } catch (err) {
    // A result that JSON cannot carry (BigInt, cycles) is a handler bug; tell the client which call.
    if (frame.type !== 'response') throw err;
    logError(`WebSocket response to call ${String(frame.id)}`, err);
    const message = `result is not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`;
    text = JSON.stringify({ type: 'response', id: frame.id, error: { code: 'INTERNAL', message } } satisfies ResponseFrame);
  }
  ws.send(text);
}

/** Serves `api` over WebSocket on `httpServer`'s upgrade requests to `options.path`. */
export function attachWsApi(httpServer: HttpServer, api: Api, options: WsApiOptions): WsApiServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 16 * 1024 * 1024 });
  const alive = new WeakMap<WebSocket, boolean>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?', 1)[0];
    const refusal: UpgradeRefusal | null = pathname === options.path ? options.verify(req) : { status: 404, reason: `no WebSocket endpoint at ${pathname}` };
    if (refusal) {
      refuseUpgrade(socket, refusal);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  httpServer.on('upgrade', onUpgrade);

  wss.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const frame = readFrame(data, isBinary);
      if ('error' in frame) {
        send(ws, { type: 'response', id: frame.id, error: frame.error });
        return;
      }
      void dispatch(api, frame.method, frame.args).then((envelope) => {
        send(ws, { type: 'response', id: frame.id, ...envelope });
      });
    });
  });

  const unsubscribe = api.events.onAny((event, payload) => {
    const text = JSON.stringify({ type: 'event', event, payload });
    for (const ws of wss.clients) {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    }
  });

  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const ws of wss.clients) {
            if (alive.get(ws) === false) {
              ws.terminate();
              continue;
            }
            alive.set(ws, false);
            ws.ping();
          }
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  let closing: Promise<void> | null = null;
  return {
    get clientCount() {
      return wss.clients.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        if (heartbeat) clearInterval(heartbeat);
        httpServer.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.close(1001, 'server shutting down');
        // Clients get a moment for the closing handshake; stragglers are cut off.
        const force = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1000);
        force.unref();
        wss.close(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}

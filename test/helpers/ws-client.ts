/**
 * A minimal protocol client over the real `ws` package, for tests that talk to a running server the
 * way a browser does (JSON text frames, see src/main/contract/wire.ts).
 */
import http from 'node:http';
import WebSocket from 'ws';
import type { ClientFrame, EventFrame, ResponseFrame, ServerFrame } from '../../src/main/contract/wire.js';

/** `http://host:port/?token=T` -> `ws://host:port/api?token=T` (or without the token). */
export function wsUrl(pageUrl: string, options: { token?: string | null } = {}): string {
  const page = new URL(pageUrl);
  const token = options.token === undefined ? page.searchParams.get('token') : options.token;
  const url = new URL('/api', page);
  url.protocol = 'ws:';
  if (token !== null) url.searchParams.set('token', token);
  return url.toString();
}

export class TestClient {
  private nextId = 1;
  private readonly waiting = new Map<number | null, (frame: ResponseFrame) => void>();
  readonly events: EventFrame[] = [];
  private readonly eventWaiters: ((frame: EventFrame) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      if (frame.type === 'event') {
        this.events.push(frame);
        for (const w of this.eventWaiters.splice(0)) w(frame);
        return;
      }
      const resolve = this.waiting.get(frame.id);
      this.waiting.delete(frame.id);
      resolve?.(frame);
    });
  }

  static connect(url: string, origin?: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, origin === undefined ? {} : { origin });
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends an invoke frame and resolves with its response. */
  invoke(method: string, args?: unknown): Promise<ResponseFrame> {
    const id = this.nextId++;
    return this.sendRaw({ type: 'invoke', id, method, args } satisfies ClientFrame, id);
  }

  /** Sends any text and waits for the response with `id` (null for unreadable frames). */
  sendRaw(frame: unknown, id: number | null): Promise<ResponseFrame> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    });
  }

  nextEvent(): Promise<EventFrame> {
    return new Promise((resolve) => this.eventWaiters.push(resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Attempts a connection that should be refused; resolves with the HTTP status of the refusal. */
export function expectRefused(url: string, origin?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, origin === undefined ? {} : { origin });
    socket.once('open', () => {
      socket.close();
      reject(new Error(`connection to ${url} was accepted`));
    });
    socket.once('unexpected-response', (_req, res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        socket.terminate();
      });
    });
    // With an 'unexpected-response' listener, ws reports nothing else for a refusal; any other
    // failure (connection reset) is an error of the test itself.
    socket.on('error', (err) => reject(err));
  });
}

/** A GET with the path sent exactly as given (no URL normalisation, unlike fetch). */
export function rawGet(origin: string, rawPath: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

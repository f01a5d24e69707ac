/**
 * Browser mode: one HTTP server that serves the built renderer (out/renderer) and the API contract
 * over WebSocket on the same port. Never imports 'electron'.
 *
 * Access control: a random token, printed in the URL, is required on every WebSocket connection,
 * and browsers (which always send Origin) may only connect from the server's own origin, so another
 * web page open in the same browser cannot drive the engine. The static files hold no secrets.
 * Images (`/images/<id>`, see transport/image-route.ts) need the token too, as a query parameter
 * (an <img> cannot send headers), and carry Cross-Origin-Resource-Policy: same-origin. Every
 * request, the WebSocket upgrade included, must name in its Host header one of the host names the
 * server was started for (transport/host-check.ts): a DNS-rebinding page gets 421 for everything.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi, type Api } from './api/handlers.js';
import { AppError } from './shared/errors.js';
import { TOKEN_PARAM, WS_PATH } from './contract/wire.js';
import { MAX_API_FRAME_BYTES } from './contract/dataset-images.js';
import { GENERATED_ROUTE, IMAGE_ROUTE, parseGeneratedRequest, parseImageRequest, resolveImage } from './transport/image-route.js';
import { attachWsApi, type UpgradeRefusal } from './transport/ws-server.js';
import { allowedHosts as hostsFor, hostAllowed, MISDIRECTED, originsOf } from './transport/host-check.js';

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Path of the SQLite store handed to the API. */
  db?: string;
  /** Built renderer to serve; relative paths resolve against the repository root. Default out/renderer. */
  staticDir?: string;
  /** Extra origins allowed to open WebSocket connections (e.g. `http://localhost:8080` behind an SSH tunnel). */
  allowedOrigins?: string[];
  /**
   * Extra host names the server answers to, `NAME` (on its port) or `NAME:PORT` (through a tunnel
   * or proxy): a DNS name it is reached by when bound to every interface. Pages of these names may
   * also open the WebSocket.
   */
  allowedHosts?: string[];
  /** The access token (default: a new random one); `sd4match serve` keeps one per store so its URL outlives a restart. */
  token?: string;
  /** Serve this API instead of a new one (tests push events through it). */
  api?: Api;
}

export interface RunningServer {
  /** The page to open, access token included. */
  readonly url: string;
  readonly token: string;
  /** `http://host:port`, without the token. */
  readonly origin: string;
  readonly port: number;
  /** Absolute path of the served renderer directory. */
  readonly staticDir: string;
  /** Whether `staticDir/index.html` exists (the renderer is built). */
  readonly staticReady: boolean;
  readonly api: Api;
  /** Closes WebSocket clients, then the HTTP server. Idempotent. */
  close(): Promise<void>;
}

/** The repository root: the nearest ancestor of this module holding package.json (works from src/ and out/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export const DEFAULT_STATIC_DIR = 'out/renderer';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Maps a raw request path to a path relative to the static root, or null when it must be refused:
 * undecodable escapes, NUL, backslashes, and `.`/`..` segments whether written plainly or
 * percent-encoded (`%2e%2e%2f`, `..%2f`, `%2e%2e/`). Decoding happens exactly once.
 */
export function safeRelativePath(rawPath: string): string | null {
  if (!rawPath.startsWith('/')) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const rel = segments.join('/');
  return rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel;
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(text);
}

async function serveStatic(root: string, rootReal: string | null, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const rawPath = (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
  if (rawPath === WS_PATH) {
    sendText(res, 426, 'This endpoint speaks WebSocket only.\n', { Upgrade: 'websocket' });
    return;
  }
  const rel = safeRelativePath(rawPath);
  if (rel === null) {
    sendText(res, 400, 'Bad Request: the path is malformed or leaves the served directory\n');
    return;
  }
  if (rootReal === null) {
    sendText(res, 503, `The renderer is not built (no ${path.join(root, 'index.html')}). Run \`npm run build\`.\n`);
    return;
  }
  const candidate = path.resolve(rootReal, rel);
  // Checked before touching the file system, so the answer says nothing about files outside.
  if (!isInside(rootReal, candidate)) {
    sendText(res, 400, 'Bad Request: the path leaves the served directory\n');
    return;
  }
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  // A symlink inside the root must not lead outside it either.
  if (!isInside(rootReal, real)) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const stat = await fsp.stat(real).catch(() => null);
  if (!stat?.isFile()) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const ext = path.extname(real).toLowerCase();
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': String(stat.size),
    // Vite fingerprints asset names; the HTML must be revalidated so a rebuild is picked up.
    'Cache-Control': ext === '.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(real);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** `GET /images/<id>[?size=N]&token=T` or `GET /generated/<id>?token=T`: an image of the store by id (see transport/image-route.ts). */
async function serveImage(api: Api, tokenOk: (supplied: string | null) => boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  if (!tokenOk(query.get(TOKEN_PARAM))) {
    sendText(res, 401, 'Unauthorized: missing or wrong access token\n');
    return;
  }
  const parsed = rawPath.startsWith(GENERATED_ROUTE) ? parseGeneratedRequest(rawPath.slice(GENERATED_ROUTE.length)) : parseImageRequest(rawPath.slice(IMAGE_ROUTE.length), query);
  if ('status' in parsed) {
    sendText(res, parsed.status, `${parsed.message}\n`);
    return;
  }
  const ifNoneMatch = req.headers['if-none-match'];
  const reply = await resolveImage(api, parsed, typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined);
  // Images are content-addressed by their ETag; the token in the URL keeps them out of shared caches.
  const caching = { 'Cache-Control': 'private, max-age=3600' };
  if (reply.kind === 'error') {
    sendText(res, reply.status, `${reply.message}\n`);
    return;
  }
  if (reply.kind === 'not-modified') {
    res.writeHead(304, { ...SECURITY_HEADERS, ...caching, ETag: reply.etag });
    res.end();
    return;
  }
  const stat = await fsp.stat(reply.file).catch(() => null);
  if (!stat?.isFile()) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  res.writeHead(200, { ...SECURITY_HEADERS, ...caching, 'Content-Type': reply.contentType, 'Content-Length': String(stat.size), ETag: reply.etag });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(reply.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

function hostForUrl(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare.includes(':') ? `[${bare}]` : bare;
}

/** Every origin a page served by this server can have. */
function ownOrigins(host: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set<string>();
  if (!WILDCARD_HOSTS.has(host)) names.add(host);
  if (LOOPBACK_HOSTS.has(host) || WILDCARD_HOSTS.has(host)) {
    for (const h of ['127.0.0.1', 'localhost', '::1']) names.add(h);
  }
  if (WILDCARD_HOSTS.has(host)) {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const nic of list ?? []) names.add(nic.address);
    }
    names.add(os.hostname());
  }
  const origins = new Set<string>();
  for (const name of names) origins.add(new URL(`http://${hostForUrl(name)}:${port}`).origin);
  for (const o of extra) origins.add(new URL(o).origin);
  return origins;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const where = `${hostForUrl(host)}:${port}`;
      if (err.code === 'EADDRINUSE') reject(new AppError('INVALID_ARGUMENT', `cannot listen on ${where}: the port is already in use`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new AppError('INVALID_ARGUMENT', `cannot listen on ${where}: no such local address`));
      else if (err.code === 'EACCES') reject(new AppError('INVALID_ARGUMENT', `cannot listen on ${where}: permission denied`));
      else reject(new AppError('RUNTIME_ERROR', `cannot listen on ${where}: ${err.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** A random access token (256 bits, URL-safe). */
export function newAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Starts the browser-mode server. Resolves once it listens; the URL carries the access token. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new AppError('INVALID_ARGUMENT', `port must be an integer from 0 to 65535, got ${requestedPort}`);
  }
  if (host.trim() === '') throw new AppError('INVALID_ARGUMENT', 'host must not be empty');
  for (const o of options.allowedOrigins ?? []) {
    if (!URL.canParse(o)) throw new AppError('INVALID_ARGUMENT', `allowed origin '${o}' is not a URL`);
  }

  const staticDir = path.resolve(repoRoot(), options.staticDir ?? DEFAULT_STATIC_DIR);
  const staticReady = existsSync(path.join(staticDir, 'index.html'));
  const staticReal = staticReady ? await fsp.realpath(staticDir) : null;

  const ownApi = options.api === undefined;
  const api = options.api ?? createApi(options.db === undefined ? {} : { db: options.db });
  if (options.token !== undefined && !/^[A-Za-z0-9_-]{32,}$/.test(options.token)) throw new AppError('INVALID_ARGUMENT', 'an access token must be at least 32 URL-safe characters');
  const token = options.token ?? newAccessToken();
  const tokenDigest = digest(token);
  const tokenOk = (supplied: string | null) => supplied !== null && timingSafeEqual(digest(supplied), tokenDigest);

  // known once listening, before any request can arrive
  let hosts: ReadonlySet<string> = new Set();
  const http = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, hosts)) {
      sendText(res, MISDIRECTED.status, `${MISDIRECTED.reason}\n`);
      return;
    }
    const isImage = (req.url ?? '').startsWith(IMAGE_ROUTE) || (req.url ?? '').startsWith(GENERATED_ROUTE);
    (isImage ? serveImage(api, tokenOk, req, res) : serveStatic(staticDir, staticReal, req, res)).catch((err: unknown) => {
      console.error(`${isImage ? 'image' : 'static file'} request failed:`, err);
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error\n');
      else res.destroy();
    });
  });

  // a malformed extra name is refused before anything listens
  hostsFor(host, requestedPort || 1, options.allowedHosts);
  await listen(http, host, requestedPort);
  const port = (http.address() as AddressInfo).port;
  hosts = hostsFor(host, port, options.allowedHosts);
  const allowed = ownOrigins(host, port, [...(options.allowedOrigins ?? []), ...originsOf(hosts)]);

  const verify = (req: IncomingMessage): UpgradeRefusal | null => {
    if (!hostAllowed(req.headers.host, hosts)) return { status: MISDIRECTED.status, reason: MISDIRECTED.reason };
    const supplied = new URL(req.url ?? '/', 'http://placeholder').searchParams.get(TOKEN_PARAM);
    if (!tokenOk(supplied)) {
      return { status: 401, reason: 'missing or wrong access token: open the URL printed by `sd4match serve`' };
    }
    // Browsers always send Origin; other clients (scripts, tests) may omit it and rely on the token.
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const normalized = URL.canParse(origin) ? new URL(origin).origin : origin;
      if (!allowed.has(normalized)) return { status: 403, reason: `origin ${origin} is not allowed` };
    }
    return null;
  };
  // frames as large as a batch of images to add (datasets:add-images) carries
  const ws = attachWsApi(http, api, { path: WS_PATH, verify, maxPayload: MAX_API_FRAME_BYTES });

  const displayHost = WILDCARD_HOSTS.has(host) ? '127.0.0.1' : hostForUrl(host);
  const origin = `http://${displayHost}:${port}`;
  const url = `${origin}/?${TOKEN_PARAM}=${token}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    token,
    origin,
    port,
    staticDir,
    staticReady,
    api,
    close() {
      closing ??= (async () => {
        // running jobs stop after their current step (training checkpoints first)
        if (ownApi) await api.close();
        await ws.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

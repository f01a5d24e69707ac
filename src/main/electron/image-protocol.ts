/**
 * The `sd4match-image://image/<id>[?size=N]` protocol: images of the store for the renderer, by id
 * only, answered by the same code as browser mode's `/images/<id>` route (transport/image-route.ts:
 * ImageAccess keeps every file inside its dataset root). Only the application window's session
 * has it, and the page's Content-Security-Policy names it in img-src.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { protocol } from 'electron';
import type { Api } from '../api/handlers.js';
import { IMAGE_SCHEME, parseImageUrl, resolveImage } from '../transport/image-route.js';

/** Must run before the app is ready: a standard, secure scheme that fetch() and <img> may load. */
export function registerImageScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } }]);
}

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' } });
}

/** Serves the protocol from `api`; returns the function that stops serving it. */
export function handleImageProtocol(api: Api): () => void {
  protocol.handle(IMAGE_SCHEME, async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'Method Not Allowed');
    const parsed = parseImageUrl(request.url);
    if ('status' in parsed) return text(parsed.status, parsed.message);
    const reply = await resolveImage(api, parsed, request.headers.get('if-none-match') ?? undefined);
    if (reply.kind === 'error') return text(reply.status, reply.message);
    const headers = { 'Cache-Control': 'private, max-age=3600', ETag: reply.etag, 'X-Content-Type-Options': 'nosniff' };
    if (reply.kind === 'not-modified') return new Response(null, { status: 304, headers });
    const info = await stat(reply.file).catch(() => null);
    if (!info?.isFile()) return text(404, 'Not Found');
    const body = request.method === 'HEAD' ? null : (Readable.toWeb(createReadStream(reply.file)) as ReadableStream<Uint8Array>);
    return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': reply.contentType, 'Content-Length': String(info.size) } });
  });
  return () => protocol.unhandle(IMAGE_SCHEME);
}

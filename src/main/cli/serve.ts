/**
 * `sd4match serve`: the engine and the renderer over HTTP + WebSocket (browser mode), until
 * SIGINT/SIGTERM. Also used by `npm start` when the Electron binary is missing.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createApi } from '../api/handlers.js';
import fs from 'node:fs';
import path from 'node:path';
import { newAccessToken, startServer, type RunningServer } from '../server.js';
import { writeFileAtomic } from '../engine/cache/temp-files.js';
import { resolveStoreLocation } from '../store/paths.js';
import { parseIntOption } from './common.js';

/** The port `serve` listens on unless told otherwise (a free one when it is taken). */
export const DEFAULT_SERVE_PORT = 7180;

export interface ServeOptions {
  host?: string;
  /** Extra host names to answer to (`NAME` or `NAME:PORT`), besides the bound address (DNS rebinding: see transport/host-check.ts). */
  allowedHosts?: string[];
  /** TCP port; 0 picks a free one; default DEFAULT_SERVE_PORT, or a free one when that is taken. */
  port?: number;
  db?: string;
  staticDir?: string;
  /** Make a new access token instead of the store's usual one (old URLs stop working). */
  newToken?: boolean;
  /** Open the URL in the default browser (default true; skipped without a display on Linux). */
  open?: boolean;
  /** Where the URL and notices go (default process.stdout / process.stderr). */
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  /** Resolves with the running server once it listens (tests and embedders). */
  onListening?: (server: RunningServer) => void;
  /** Stop when this aborts, as well as on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Best effort: a missing opener (headless machine) is not an error, the URL is printed anyway. */
function openInBrowser(url: string): void {
  let command: string;
  let args: string[];
  if (process.platform === 'darwin') {
    command = 'open';
    args = [url];
  } else if (process.platform === 'win32') {
    command = 'cmd';
    args = ['/c', 'start', '""', url.replace(/&/g, '^&')];
  } else {
    if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
    command = 'xdg-open';
    args = [url];
  }
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no opener available
  }
}

/**
 * The store's access token for `serve` (a file beside its caches, readable by its owner only),
 * made on first use or when `renew`; a token file that is not ours is replaced.
 */
export function serveToken(cacheDir: string, renew: boolean): string {
  const file = path.join(cacheDir, 'serve-token');
  if (!renew) {
    try {
      const t = fs.readFileSync(file, 'utf8').trim();
      if (/^[A-Za-z0-9_-]{32,}$/.test(t)) return t;
    } catch {
      // none yet
    }
  }
  const token = newAccessToken();
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(file, Buffer.from(`${token}\n`));
  fs.chmodSync(file, 0o600);
  return token;
}

/** Starts the server, prints its URL and runs until SIGINT/SIGTERM (or `signal`), then closes cleanly. */
export async function runServe(options: ServeOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const host = options.host ?? '127.0.0.1';
  // The store opens (and is checked) before anything listens: a damaged or foreign database is
  // refused with its way out, and nothing is served.
  const api = createApi(options.db === undefined ? {} : { db: options.db });
  let server: RunningServer;
  try {
    api.context.services();
    // the same address (port and token) from one start to the next: an open window reconnects by
    // itself after a restart, and keeps what the browser stored for the site
    const token = serveToken(resolveStoreLocation(options.db).cacheDir, options.newToken === true);
    const start = (port: number) =>
      startServer({
        host,
        port,
        api,
        token,
        ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
        ...(options.staticDir === undefined ? {} : { staticDir: options.staticDir }),
      });
    if (options.port !== undefined) server = await start(options.port);
    else {
      try {
        server = await start(DEFAULT_SERVE_PORT);
      } catch (e) {
        if (!/already in use/.test((e as Error).message)) throw e;
        err.write(`note: port ${DEFAULT_SERVE_PORT} is in use (another workstation?): serving on a free port instead; pass --port to choose one.\n`);
        server = await start(0);
      }
    }
  } catch (e) {
    await api.close();
    throw e;
  }

  if (!server.staticReady) {
    err.write(`warning: the renderer is not built (${server.staticDir} has no index.html); run \`npm run build\`. The API is served anyway.\n`);
  }
  if (!LOOPBACK.has(host)) {
    err.write(`warning: listening on ${host}: anyone who can reach this address and has the URL below can use the engine.\n`);
    err.write(
      `note: the server answers only to this machine's addresses and host name${options.allowedHosts?.length ? ` and ${options.allowedHosts.join(', ')}` : ''}; add the names it is reached by with --allowed-host NAME[:PORT].\n`,
    );
  }
  out.write(`SD4Match Workstation is serving at ${server.url}\n`);
  out.write(`database: ${resolveStoreLocation(options.db).db}\n`);
  out.write('Press Ctrl+C to stop.\n');
  options.onListening?.(server);
  if (options.open !== false) openInBrowser(server.url);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
  await server.close();
  // the server was handed the API, so closing it (jobs, inference, the store) is ours
  await api.close();
  out.write('Server stopped.\n');
}

/** Adds `serve [--port P] [--host H] [--allowed-host N] [--no-open] [--new-token]` to the CLI. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the workstation to a web browser: the renderer over HTTP, the API over WebSocket (token in the URL)')
    .option('--port <port>', `TCP port (0 = a free port; default ${DEFAULT_SERVE_PORT}, or a free one when it is taken)`, parseIntOption('--port'))
    .option('--host <host>', 'interface to bind (keep 127.0.0.1 unless you mean to share it)', '127.0.0.1')
    .option(
      '--allowed-host <name>',
      'another host name to answer to, NAME or NAME:PORT (e.g. the DNS name of a shared machine, or localhost:8080 through an SSH tunnel); repeatable',
      (v: string, list: string[]) => [...list, v],
      [] as string[],
    )
    .option('--no-open', 'do not open the URL in a browser')
    .option('--new-token', 'make a new access token (the URL printed before stops working); otherwise the store keeps its token, so the URL stays the same from one start to the next')
    .action(async (opts: { port?: number; host: string; open: boolean; allowedHost: string[]; newToken?: boolean }, cmd: Command) => {
      // the global --db (before or after `serve`) picks the database the API serves
      const { db } = cmd.optsWithGlobals<{ db?: string }>();
      await runServe({ port: opts.port, host: opts.host, open: opts.open, allowedHosts: opts.allowedHost, newToken: opts.newToken === true, ...(db === undefined ? {} : { db }) });
    });
}

/**
 * `sd4match serve` keeps its address from one start to the next: the same port and the store's
 * access token, so a window left open reconnects by itself after a restart; `--new-token` makes a
 * new one (the old URL stops working); the usual port taken, it serves on a free one and says so.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVE_PORT, runServe } from '../../src/main/cli/serve.js';
import type { RunningServer } from '../../src/main/server.js';
import { freePort, startServeProcess } from '../helpers/serve-process.js';
import { TestClient, wsUrl } from '../helpers/ws-client.js';

let dir: string;
let db: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-serve-addr-'));
  db = path.join(dir, 'ws.db');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the address of sd4match serve', () => {
  it('is the same after a restart on the same store and port; --new-token replaces the token', async () => {
    const port = await freePort();
    const first = await startServeProcess(db, { port });
    const url = first.url;
    await first.kill('SIGKILL');
    const second = await startServeProcess(db, { port });
    try {
      expect(second.url).toBe(url);
      const c = await TestClient.connect(wsUrl(second.url));
      expect('result' in (await c.invoke('app:info'))).toBe(true);
      await c.close();
    } finally {
      await second.kill('SIGTERM');
    }
    // the token file is the owner's alone
    const tokenFile = path.join(`${db}-cache`, 'serve-token');
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);

    const third = await startServeProcess(db, { port, args: ['--new-token'] });
    try {
      expect(third.url).not.toBe(url);
      expect(new URL(third.url).port).toBe(String(port));
      // the old URL's token no longer opens the API
      await expect(TestClient.connect(wsUrl(url))).rejects.toThrow();
    } finally {
      await third.kill('SIGTERM');
    }
  }, 120_000);

  it(`serves on port ${DEFAULT_SERVE_PORT} by default, and on a free port (saying so) when that one is taken`, async () => {
    // hold the usual port (unless something else already does)
    const holder = net.createServer();
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve());
      holder.listen(DEFAULT_SERVE_PORT, '127.0.0.1', () => resolve());
    });
    const err: string[] = [];
    const errStream = new (await import('node:stream')).Writable({
      write(chunk, _enc, cb) {
        err.push(String(chunk));
        cb();
      },
    });
    const out = new (await import('node:stream')).Writable({ write: (_c, _e, cb) => cb() });
    const stop = new AbortController();
    let server: RunningServer | undefined;
    const running = runServe({ db, open: false, err: errStream, out, signal: stop.signal, onListening: (s) => (server = s) });
    try {
      await expect.poll(() => server, { timeout: 30_000 }).toBeDefined();
      expect(server!.port).not.toBe(DEFAULT_SERVE_PORT);
      expect(err.join('')).toMatch(new RegExp(`port ${DEFAULT_SERVE_PORT} is in use`));
    } finally {
      stop.abort();
      await running;
      await new Promise((r) => holder.close(r));
    }
  }, 60_000);
});

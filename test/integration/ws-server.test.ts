/**
 * The browser-mode server over real sockets: a real HTTP server on a random port, the `ws` client,
 * the real API handlers and ONNX Runtime.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs, { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_VERSION } from '../../src/main/shared/version.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { repoPath } from '../helpers/paths.js';
import { expectRefused, rawGet, TestClient, wsUrl } from '../helpers/ws-client.js';

const SECRET = 'top-secret-outside-the-static-dir';

let tmp: string;
let server: RunningServer;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sd4match-ws-'));
  const staticDir = path.join(tmp, 'static');
  mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>fixture</title><p>hello</p>');
  writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1);');
  writeFileSync(path.join(tmp, 'secret.txt'), SECRET);
  symlinkSync(path.join(tmp, 'secret.txt'), path.join(staticDir, 'assets', 'link.txt'));
  server = await startServer({ port: 0, staticDir });
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('sd4match serve: WebSocket API', () => {
  it('prints a URL on 127.0.0.1 with a random port and the access token', () => {
    const url = new URL(server.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(url.searchParams.get('token')).toBe(server.token);
    expect(server.token.length).toBeGreaterThanOrEqual(40);
  });

  it('answers app:info with the engine version and the CPU provider', async () => {
    const client = await TestClient.connect(wsUrl(server.url), server.origin);
    try {
      const response = await client.invoke('app:info', {});
      expect(response).not.toHaveProperty('error');
      if (!('result' in response)) throw new Error('no result');
      const info = response.result as { engineVersion: string; ortVersion: string; provider: string; providerAttempts: unknown[] };
      expect(info.engineVersion).toBe(ENGINE_VERSION);
      expect(info.provider).toBe('cpu');
      expect(info.ortVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(info.providerAttempts).toContainEqual({ provider: 'cpu', ok: true });
    } finally {
      await client.close();
    }
  });

  it('accepts app:info without arguments', async () => {
    const client = await TestClient.connect(wsUrl(server.url));
    try {
      const response = await client.invoke('app:info');
      expect(response).toHaveProperty('result.engineVersion', ENGINE_VERSION);
    } finally {
      await client.close();
    }
  });

  it('refuses a connection without the token', async () => {
    const refused = await expectRefused(wsUrl(server.url, { token: null }), server.origin);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatch(/token/);
  });

  it('refuses a connection with a wrong token', async () => {
    const refused = await expectRefused(wsUrl(server.url, { token: `${server.token.slice(0, -1)}x` }), server.origin);
    expect(refused.status).toBe(401);
  });

  it('refuses a connection from a foreign Origin even with the token', async () => {
    const refused = await expectRefused(wsUrl(server.url), 'http://evil.example:8080');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/origin/i);
  });

  it('refuses the opaque "null" Origin and a different port on the same host', async () => {
    expect((await expectRefused(wsUrl(server.url), 'null')).status).toBe(403);
    const otherPort = server.port === 65535 ? 65534 : server.port + 1;
    expect((await expectRefused(wsUrl(server.url), `http://127.0.0.1:${otherPort}`)).status).toBe(403);
  });

  it('accepts the localhost spelling of its own origin', async () => {
    const client = await TestClient.connect(wsUrl(server.url), `http://localhost:${server.port}`);
    await client.close();
  });

  it('rejects unknown arguments with a message naming the method and the key', async () => {
    const client = await TestClient.connect(wsUrl(server.url));
    try {
      const response = await client.invoke('app:info', { bogus: 1 });
      expect(response).toHaveProperty('error.code', 'INVALID_ARGUMENT');
      if (!('error' in response)) throw new Error('expected an error');
      expect(response.error.message).toMatch(/invalid arguments for 'app:info'/);
      expect(response.error.message).toMatch(/bogus/);
    } finally {
      await client.close();
    }
  });

  it('rejects arguments that are not an object', async () => {
    const client = await TestClient.connect(wsUrl(server.url));
    try {
      const response = await client.invoke('app:info', [1, 2]);
      expect(response).toHaveProperty('error.code', 'INVALID_ARGUMENT');
    } finally {
      await client.close();
    }
  });

  it('rejects an unknown method, listing the known ones', async () => {
    const client = await TestClient.connect(wsUrl(server.url));
    try {
      const response = await client.invoke('app:explode', {});
      expect(response).toHaveProperty('error.code', 'NOT_FOUND');
      if (!('error' in response)) throw new Error('expected an error');
      expect(response.error.message).toMatch(/unknown method 'app:explode'.*app:info/);
    } finally {
      await client.close();
    }
  });

  it('answers unreadable frames with id null and keeps the connection open', async () => {
    const client = await TestClient.connect(wsUrl(server.url));
    try {
      const garbage = await client.sendRaw('{not json', null);
      expect(garbage).toMatchObject({ id: null, error: { code: 'INVALID_ARGUMENT' } });
      const noType = await client.sendRaw({ id: 7, method: 'app:info' }, 7);
      expect(noType).toMatchObject({ id: 7, error: { code: 'INVALID_ARGUMENT' } });
      const ok = await client.invoke('app:info');
      expect(ok).toHaveProperty('result');
    } finally {
      await client.close();
    }
  });

  it('pushes engine events to every connected client', async () => {
    const a = await TestClient.connect(wsUrl(server.url));
    const b = await TestClient.connect(wsUrl(server.url));
    try {
      const received = Promise.all([a.nextEvent(), b.nextEvent()]);
      const payload = { level: 'info' as const, message: 'hello from the engine', time: 1 };
      server.api.events.emit('log:appended', payload);
      const [ea, eb] = await received;
      expect(ea).toEqual({ type: 'event', event: 'log:appended', payload });
      expect(eb).toEqual(ea);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('sd4match serve: static files', () => {
  it('serves index.html at / with security headers', async () => {
    const res = await rawGet(server.origin, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toContain('hello');
  });

  it('serves assets with their content type', async () => {
    const res = await rawGet(server.origin, '/assets/app.js?v=1');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
  });

  it('answers 404 for a missing file', async () => {
    expect((await rawGet(server.origin, '/nope.js')).status).toBe(404);
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/.%2e/secret.txt',
    '/..%5csecret.txt',
    '/%c0%ae%c0%ae/secret.txt',
    '/%00../secret.txt',
  ])('refuses the traversal %s', async (rawPath) => {
    const res = await rawGet(server.origin, rawPath);
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(SECRET);
  });

  it('does not decode twice (%252e%252e stays a literal name)', async () => {
    const res = await rawGet(server.origin, '/%252e%252e%252fsecret.txt');
    expect(res.status).toBe(404);
    expect(res.body).not.toContain(SECRET);
  });

  it('does not follow a symlink out of the static directory', async () => {
    const res = await rawGet(server.origin, '/assets/link.txt');
    expect(res.status).toBe(404);
    expect(res.body).not.toContain(SECRET);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const res = await fetch(`${server.origin}/`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('sd4match serve: lifecycle', () => {
  it('closes connected clients when it stops', async () => {
    const own = await startServer({ port: 0, staticDir: path.join(tmp, 'static') });
    const client = await TestClient.connect(wsUrl(own.url));
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    await own.close();
    expect(await closed).toBe(1001);
    await expect(rawGet(own.origin, '/')).rejects.toThrow();
  });

  it('says which port is taken', async () => {
    await expect(startServer({ port: server.port })).rejects.toThrow(new RegExp(`${server.port}.*already in use`));
  });

  it('rejects an out-of-range port', async () => {
    await expect(startServer({ port: 70000 })).rejects.toThrow(/port must be an integer from 0 to 65535/);
  });
});

describe('sd4match serve (the command)', () => {
  /** Starts the real CLI and resolves with the URL it prints; the caller stops it. */
  function serve(args: string[]): Promise<{ url: string; child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath('src/main/cli.ts'), ...args], { cwd: repoPath(), env: { ...process.env, SD4MATCH_DB: '' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 45_000);
      child.stdout!.on('data', () => {
        const m = /serving at (\S+)/.exec(out);
        if (m && out.includes('Press Ctrl+C')) {
          clearTimeout(timer);
          resolve({ url: m[1]!, child, output: () => out });
        }
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
    });
  }

  it.each([
    ['before the command', (db: string) => ['--db', db, 'serve', '--port', '0', '--no-open']],
    ['after the command', (db: string) => ['serve', '--port', '0', '--no-open', '--db', db]],
  ])('serves the database named by the global --db (%s) on 127.0.0.1', async (_where, args) => {
    const db = path.join(tmp, `serve-${_where.split(' ')[0]}.db`);
    const { url, child, output } = await serve(args(db));
    try {
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect(output()).toContain(`database: ${db}`);
      const client = await TestClient.connect(wsUrl(url));
      try {
        const response = await client.invoke('app:paths');
        expect(response).toMatchObject({ result: { database: db, source: 'option' } });
        const listed = await client.invoke('datasets:list');
        expect(listed).toMatchObject({ result: [] });
      } finally {
        await client.close();
      }
      expect(fs.existsSync(db)).toBe(true);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    expect(output()).toContain('Server stopped.');
  });
});

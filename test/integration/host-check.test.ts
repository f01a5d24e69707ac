/**
 * DNS rebinding: `sd4match serve` answers only to the host names it was started for (the address it
 * listens on; the loopback names when that is loopback; names passed with --allowed-host), with the
 * port, on every route (static files, images, generated images) and on the WebSocket upgrade.
 * Over real sockets: the Host header is sent exactly as a rebinding page's browser would send it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { REPO } from '../helpers/cli.js';
import { TestClient, wsUrl } from '../helpers/ws-client.js';

let tmp: string;
let staticDir: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-host-'));
  staticDir = path.join(tmp, 'static');
  fs.mkdirSync(staticDir, { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>fixture</title>');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A GET to 127.0.0.1:port with the Host header (and other headers) exactly as given. */
function get(port: number, rawPath: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET', headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket upgrade request with the given headers: the status it is answered with (101 when accepted). */
function upgrade(port: number, token: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: `/api?token=${encodeURIComponent(token)}`,
      setHost: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/1.0 request without any Host header, written on a raw socket. */
function withoutHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /index.html HTTP/1.0\r\n\r\n'));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('a server bound to 127.0.0.1', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ port: 0, staticDir });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves its own names: 127.0.0.1, localhost and [::1] with its port, in any case', async () => {
    const p = server.port;
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `LocalHost:${p}`]) {
      expect((await get(p, '/index.html', { Host: host })).status, host).toBe(200);
    }
  });

  it('refuses any other host name, or its own on another port, with 421 and a short reason', async () => {
    const p = server.port;
    for (const host of ['evil.example', `evil.example:${p}`, `127.0.0.1:${p + 1}`, '127.0.0.1', `localhost.:${p}`, `127.0.0.1.evil.example:${p}`, `[::1]`, 'a b']) {
      const r = await get(p, '/index.html', { Host: host });
      expect(r.status, host).toBe(421);
      expect(r.body, host).toMatch(/^Misdirected Request: .*--allowed-host/);
      expect(r.body).not.toContain('<title>');
    }
    expect(await withoutHost(p)).toMatch(/^HTTP\/1\.[01] 4\d\d /);
  });

  it('refuses images and generated images for another host before looking at the token or the id', async () => {
    const p = server.port;
    for (const route of [`/images/1?token=${server.token}`, `/images/1?size=128&token=${server.token}`, `/generated/1?token=${server.token}`, '/images/1']) {
      expect((await get(p, route, { Host: `evil.example:${p}` })).status, route).toBe(421);
      // its own host gets past the check (to the token and the store)
      expect((await get(p, route, { Host: `127.0.0.1:${p}` })).status, route).not.toBe(421);
    }
  });

  it('refuses a WebSocket upgrade for another host even with the token and no Origin', async () => {
    const p = server.port;
    expect((await upgrade(p, server.token, { Host: `evil.example:${p}` })).status).toBe(421);
    expect((await upgrade(p, server.token, { Host: `evil.example:${p}`, Origin: `http://evil.example:${p}` })).status).toBe(421);
    // its own host with a foreign Origin: still refused (the Origin check)
    expect((await upgrade(p, server.token, { Host: `127.0.0.1:${p}`, Origin: `http://evil.example:${p}` })).status).toBe(403);
    expect((await upgrade(p, server.token, { Host: `localhost:${p}`, Origin: `http://localhost:${p}` })).status).toBe(101);
    const client = await TestClient.connect(wsUrl(server.url), server.origin);
    await client.close();
  });
});

describe('a server bound to every interface', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ host: '0.0.0.0', port: 0, staticDir, allowedHosts: ['Workstation.LAN', 'tunnel.example:8080'] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers to the names passed explicitly (with its port, or the port given) and to loopback', async () => {
    const p = server.port;
    for (const host of [`workstation.lan:${p}`, 'tunnel.example:8080', `127.0.0.1:${p}`, `localhost:${p}`]) {
      expect((await get(p, '/index.html', { Host: host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${p}`, `tunnel.example:${p}`, 'workstation.lan:8080']) {
      expect((await get(p, '/index.html', { Host: host })).status, host).toBe(421);
    }
  });

  it('lets pages of those names open the WebSocket (Origin and Host agree)', async () => {
    const p = server.port;
    expect((await upgrade(p, server.token, { Host: 'tunnel.example:8080', Origin: 'http://tunnel.example:8080' })).status).toBe(101);
    expect((await upgrade(p, server.token, { Host: `workstation.lan:${p}`, Origin: `http://workstation.lan:${p}` })).status).toBe(101);
    expect((await upgrade(p, server.token, { Host: `evil.example:${p}`, Origin: `http://workstation.lan:${p}` })).status).toBe(421);
  });

  it('refuses an allowed host that is not a host name', async () => {
    await expect(startServer({ port: 0, staticDir, allowedHosts: ['http://x/y'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/allowed host 'http:\/\/x\/y'/) });
  });
});

describe('sd4match serve --allowed-host', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    // stopped and gone before the folder holding its database is removed
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  it('adds a name the server answers to', async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), '--db', path.join(tmp, 'serve.db'), 'serve', '--host', '0.0.0.0', '--allowed-host', 'workstation.lan', '--port', '0', '--no-open'],
      {
        cwd: REPO,
        env: { ...process.env },
      },
    );
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /serving at (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.on('close', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    const p = Number(new URL(url).port);
    expect((await get(p, '/', { Host: `workstation.lan:${p}` })).status).not.toBe(421);
    expect((await get(p, '/', { Host: `evil.example:${p}` })).status).toBe(421);
    expect(err).toMatch(/--allowed-host/);
  }, 60_000);
});

/**
 * The Electron side without an Electron binary: the adapter modules run against a stand-in for the
 * 'electron' module, so the window's web preferences, the image protocol's answers and the page's
 * Content-Security-Policy are checked on every machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { Store } from '../../src/main/store/db.js';
import { DatasetsRepo } from '../../src/main/store/repositories/datasets.js';
import { ImagesRepo } from '../../src/main/store/repositories/images.js';
import { requireBuilt } from '../helpers/build-output.js';
import { writeImage } from '../helpers/dataset-gen.js';
import { repoPath } from '../helpers/paths.js';

type Handler = (request: Request) => Promise<Response>;

const electron = vi.hoisted(() => {
  const state = {
    windows: [] as { options: Record<string, unknown> }[],
    privileged: [] as unknown[],
    handlers: new Map<string, (request: Request) => Promise<Response>>(),
  };
  class FakeWindow {
    webContents = { setWindowOpenHandler: () => undefined, on: () => undefined };
    constructor(readonly options: Record<string, unknown>) {
      state.windows.push({ options });
    }
    once(): void {}
    on(): void {}
    loadURL(): Promise<void> {
      return Promise.resolve();
    }
    loadFile(): Promise<void> {
      return Promise.resolve();
    }
  }
  return {
    state,
    module: {
      BrowserWindow: FakeWindow,
      nativeTheme: { shouldUseDarkColors: false },
      screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
      session: { defaultSession: { setPermissionRequestHandler: () => undefined, setPermissionCheckHandler: () => undefined } },
      shell: { openExternal: () => Promise.resolve() },
      app: { getPath: () => os.tmpdir(), on: () => undefined },
      protocol: {
        registerSchemesAsPrivileged: (schemes: unknown[]) => state.privileged.push(...schemes),
        handle: (scheme: string, handler: (request: Request) => Promise<Response>) => state.handlers.set(scheme, handler),
        unhandle: (scheme: string) => state.handlers.delete(scheme),
      },
    },
  };
});

vi.mock('electron', () => ({ ...electron.module, default: electron.module }));

const { createMainWindow } = await import('../../src/main/electron/window.js');
const { handleImageProtocol, registerImageScheme } = await import('../../src/main/electron/image-protocol.js');

let tmp: string;
let api: Api;
let imageId: number;
let escapingId: number;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-electron-'));
  const root = path.join(tmp, 'data');
  await writeImage(root, { rel: 'a.png', width: 40, height: 30, format: 'png' });
  fs.writeFileSync(path.join(tmp, 'secret.png'), 'secret');
  const dbFile = path.join(tmp, 'w.db');
  const store = Store.open(dbFile);
  [imageId, escapingId] = store.writeSync((db) => {
    const d = new DatasetsRepo(db).create({ name: 'd', format: 'folder', root: fs.realpathSync(root) });
    const images = new ImagesRepo(db);
    const row = (p: string) => images.upsert(d.id, { path: p, categoryId: null, width: 40, height: 30, format: 'png', bytes: 1, sha256: 'a'.repeat(64) });
    return [row('a.png'), row('../secret.png')];
  });
  store.close();
  api = createApi({ db: dbFile });
});

afterAll(async () => {
  await api?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the main window', () => {
  it('isolates the renderer: context isolation, no Node integration, sandbox, web security, no webview', () => {
    createMainWindow({ preloadPath: '/app/out/preload/index.cjs', renderer: { kind: 'file', file: '/app/out/renderer/index.html' }, stateFile: path.join(tmp, 'window-state.json') });
    const prefs = electron.state.windows.at(-1)!.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      preload: '/app/out/preload/index.cjs',
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('restores the remembered window size and position', () => {
    fs.writeFileSync(path.join(tmp, 'window-state.json'), JSON.stringify({ x: 40, y: 50, width: 1000, height: 700, maximized: false }));
    createMainWindow({ preloadPath: '/p', renderer: { kind: 'file', file: '/r/index.html' }, stateFile: path.join(tmp, 'window-state.json') });
    expect(electron.state.windows.at(-1)!.options).toMatchObject({ x: 40, y: 50, width: 1000, height: 700 });
  });

  it('enables the sandbox for every renderer and registers the image scheme before the app is ready', () => {
    const source = fs.readFileSync(repoPath('src/main/index.ts'), 'utf8');
    const ready = source.indexOf('.whenReady()');
    expect(source.indexOf('app.enableSandbox()')).toBeGreaterThan(-1);
    expect(source.indexOf('app.enableSandbox()')).toBeLessThan(ready);
    expect(source.indexOf('registerImageScheme()')).toBeGreaterThan(-1);
    expect(source.indexOf('registerImageScheme()')).toBeLessThan(ready);
  });
});

describe('the sd4match-image protocol', () => {
  let handler: Handler;
  beforeAll(() => {
    registerImageScheme();
    handleImageProtocol(api);
    handler = electron.state.handlers.get('sd4match-image')!;
  });

  it('is a standard, secure scheme the page may load images from', () => {
    expect(electron.state.privileged).toContainEqual({ scheme: 'sd4match-image', privileges: expect.objectContaining({ standard: true, secure: true }) });
    expect(handler).toBeTypeOf('function');
  });

  it('serves an image of the store by id', async () => {
    const res = await handler(new Request(`sd4match-image://image/${imageId}`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    const thumb = await handler(new Request(`sd4match-image://image/${imageId}?size=16`));
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
  });

  it.each([
    'sd4match-image://image/..%2f..%2fsecret.png',
    'sd4match-image://image/%2e%2e%2fsecret.png',
    'sd4match-image://image/%252e%252e%252fsecret.png',
    'sd4match-image://image/..%5csecret.png',
    'sd4match-image://other/1',
  ])('refuses %s', async (url) => {
    const res = await handler(new Request(url));
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('secret');
  });

  it('refuses a stored path that leaves the dataset root', async () => {
    const res = await handler(new Request(`sd4match-image://image/${escapingId}`));
    expect(res.status).toBe(403);
  });
});

describe("the renderer page's Content-Security-Policy", () => {
  function csp(): Map<string, string[]> {
    const html = fs.readFileSync(requireBuilt('out/renderer/index.html'), 'utf8');
    const m = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
    if (!m) throw new Error('out/renderer/index.html has no Content-Security-Policy meta tag');
    return new Map(
      m[1]!
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...values]) => [name!, values]),
    );
  }

  it('runs only its own scripts and connects only to itself and the local engine', () => {
    const policy = csp();
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'", 'ws://127.0.0.1:*', 'ws://localhost:*']);
  });

  it('loads images from itself and the image protocol only', () => {
    expect(csp().get('img-src')).toEqual(["'self'", 'data:', 'blob:', 'sd4match-image:']);
  });
});

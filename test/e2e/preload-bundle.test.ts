/**
 * The built preload (out/preload/index.cjs) as Electron's sandbox would load it: a CommonJS script
 * whose only module is 'electron'. It must expose exactly one object, `api`, with `invoke` and `on`.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuilt } from '../helpers/build-output.js';

type Fn = (...args: unknown[]) => unknown;

interface Loaded {
  exposed: [string, Record<string, Fn>][];
  required: string[];
  ipc: { invoke: unknown[][]; on: [string, Fn][]; removed: [string, Fn][] };
}

function loadPreload(code: string): Loaded {
  const loaded: Loaded = { exposed: [], required: [], ipc: { invoke: [], on: [], removed: [] } };
  const electron = {
    contextBridge: {
      exposeInMainWorld: (key: string, value: Record<string, Fn>) => loaded.exposed.push([key, value]),
    },
    ipcRenderer: {
      invoke: (...args: unknown[]) => {
        loaded.ipc.invoke.push(args);
        return Promise.resolve({ result: 'ok' });
      },
      on: (channel: string, fn: Fn) => loaded.ipc.on.push([channel, fn]),
      removeListener: (channel: string, fn: Fn) => loaded.ipc.removed.push([channel, fn]),
    },
  };
  const module = { exports: {} };
  const sandbox = {
    module,
    exports: module.exports,
    require: (id: string) => {
      loaded.required.push(id);
      if (id !== 'electron') throw new Error(`a sandboxed preload cannot require '${id}'`);
      return electron;
    },
  };
  // Throws a SyntaxError if the bundle were an ES module (import/export statements).
  vm.runInNewContext(code, sandbox, { filename: 'out/preload/index.cjs' });
  return loaded;
}

describe('built preload bundle', () => {
  let code: string;
  let loaded: Loaded;

  beforeAll(() => {
    code = readFileSync(requireBuilt('out/preload/index.cjs'), 'utf8');
    loaded = loadPreload(code);
  });

  it('is a CommonJS script that requires nothing but electron', () => {
    expect(loaded.required.every((id) => id === 'electron')).toBe(true);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
  });

  it('exposes exactly one object, `api`, with `invoke` and `on` only', () => {
    expect(loaded.exposed.map(([key]) => key)).toEqual(['api']);
    const api = loaded.exposed[0]?.[1] ?? {};
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on']);
    expect(typeof api.invoke).toBe('function');
    expect(typeof api.on).toBe('function');
  });

  it('invoke passes the method and arguments to ipcRenderer.invoke unchanged', async () => {
    const api = loaded.exposed[0]?.[1] ?? {};
    await expect(api.invoke?.('app:info', {})).resolves.toEqual({ result: 'ok' });
    expect(loaded.ipc.invoke).toEqual([['app:info', {}]]);
  });

  it('on hands listeners the payload only (never the IPC event) and unsubscribes the same wrapper', () => {
    const api = loaded.exposed[0]?.[1] ?? {};
    const received: unknown[][] = [];
    const unsubscribe = api.on?.('log:appended', (...args: unknown[]) => received.push(args)) as () => void;
    const [channel, wrapper] = loaded.ipc.on[0] ?? [];
    expect(channel).toBe('log:appended');
    wrapper?.({ sender: 'ipc-event-with-sender' }, { message: 'hi' });
    expect(received).toEqual([[{ message: 'hi' }]]);
    unsubscribe();
    expect(loaded.ipc.removed).toEqual([['log:appended', wrapper]]);
  });
});

/**
 * An AppError's `detail` is for the log only: on every transport (in-memory, a real WebSocket) the
 * client gets code and message (and field) while the engine's log gets the detail, and a bug's
 * stack; across the job-process boundary the detail survives so the parent logs it, and a failed
 * job's info (which clients see) still carries none.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Api, ApiContext, Handlers } from '../../src/main/api/handlers.js';
import { EventHub } from '../../src/main/services/app/events.js';
import { sourceJobRuntime } from '../../src/main/services/jobs/runtime.js';
import { JobManager } from '../../src/main/engine/jobs/manager.js';
import { AppError, CancelledError, carryError, deserializeError, FieldError, serializeError } from '../../src/main/shared/errors.js';
import { formatError, setLogSink } from '../../src/main/shared/log.js';
import { createInMemoryClient } from '../../src/main/transport/in-memory.js';
import { attachWsApi, type WsApiServer } from '../../src/main/transport/ws-server.js';
import { TestClient } from '../helpers/ws-client.js';

/** Handlers that fail in each way, under real method names (the contract validates the names and arguments first). */
const FAILURES: Partial<Record<keyof Handlers, () => Promise<never>>> = {
  'app:info': async () => {
    throw new AppError('RUNTIME_ERROR', 'msg', 'the detail');
  },
  'jobs:list': async () => {
    throw new FieldError('INVALID_ARGUMENT', 'root', 'not a folder', 'ENOTDIR from stat');
  },
  'models:list': async () => {
    throw new TypeError('a bug in a handler');
  },
  'datasets:list': async () => {
    throw new CancelledError();
  },
  'runs:list': async () => {
    throw new AppError('NOT_FOUND', 'no such run');
  },
};

function fakeApi(): Api {
  const events = new EventHub();
  return { handlers: FAILURES as unknown as Handlers, context: {} as ApiContext, events, close: async () => {} };
}

let logged: string[] = [];
let restore: () => void;
beforeEach(() => {
  logged = [];
  restore = setLogSink((record) => logged.push(record));
});
afterEach(() => restore());

describe('the in-memory transport', () => {
  const client = createInMemoryClient(fakeApi());

  it('sends code and message only; the log gets code, message and detail', async () => {
    expect(await client.invokeRaw('app:info', {})).toStrictEqual({ error: { code: 'RUNTIME_ERROR', message: 'msg' } });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("handler for 'app:info': RUNTIME_ERROR: msg");
    expect(logged[0]).toContain('detail: the detail');
  });

  it('keeps the field of a FieldError for the form, and its detail for the log', async () => {
    expect(await client.invokeRaw('jobs:list', {})).toStrictEqual({ error: { code: 'INVALID_ARGUMENT', message: 'not a folder', field: 'root' } });
    expect(logged.join('\n')).toContain('detail: ENOTDIR from stat');
  });

  it("logs a bug's stack, and nothing for cancellations or expected errors without a detail", async () => {
    expect(await client.invokeRaw('models:list', {})).toStrictEqual({ error: { code: 'INTERNAL', message: 'a bug in a handler' } });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/INTERNAL: a bug in a handler\n\s+TypeError: a bug in a handler\n\s+at /);
    await client.invokeRaw('datasets:list', {});
    await client.invokeRaw('runs:list', {});
    expect(logged).toHaveLength(1);
  });
});

describe('the WebSocket transport', () => {
  let server: http.Server;
  let ws: WsApiServer;
  let url: string;

  beforeAll(async () => {
    server = http.createServer();
    ws = attachWsApi(server, fakeApi(), { path: '/api', verify: () => null, heartbeatMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });

  afterAll(async () => {
    await ws.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends code and message only (the detail is nowhere in the frame); the log gets the detail', async () => {
    const client = await TestClient.connect(url);
    const raw: string[] = [];
    client.socket.on('message', (data) => raw.push(String(data)));
    try {
      const response = await client.invoke('app:info', {});
      expect(response).toStrictEqual({ type: 'response', id: 1, error: { code: 'RUNTIME_ERROR', message: 'msg' } });
      expect(raw.join('')).not.toContain('the detail');
      expect(logged.join('\n')).toContain('detail: the detail');
      expect(logged.join('\n')).toContain("handler for 'app:info'");
    } finally {
      await client.close();
    }
  });
});

describe('the job-process boundary', () => {
  it('carries detail and a bug stack out of a worker; serializing for a client drops them again', () => {
    const carried = carryError(new AppError('RUNTIME_ERROR', 'msg', 'the detail'));
    expect(carried).toStrictEqual({ code: 'RUNTIME_ERROR', message: 'msg', detail: 'the detail' });
    const back = deserializeError(JSON.parse(JSON.stringify(carried)));
    expect(back).toBeInstanceOf(AppError);
    expect(back.detail).toBe('the detail');
    expect(serializeError(back)).toStrictEqual({ code: 'RUNTIME_ERROR', message: 'msg' });

    const bug = carryError(new RangeError('index out of range'));
    expect(bug).toMatchObject({ code: 'INTERNAL', message: 'index out of range', stack: expect.stringMatching(/^RangeError: index out of range\n\s+at /) });
    expect(deserializeError(bug).stack).toBe(bug.stack);
    expect(formatError('job x', deserializeError(bug))).toContain('RangeError: index out of range');

    const field = deserializeError(carryError(new FieldError('INVALID_ARGUMENT', 'root', 'not a folder', 'ENOTDIR')));
    expect(field).toBeInstanceOf(FieldError);
    expect(field.detail).toBe('ENOTDIR');
  });

  it("logs a failed job's detail in the parent; the job's info clients see has code and message only", async () => {
    const jobs = new JobManager({
      // a worker speaking the protocol in the real child entry, failing as worker-entry.ts reports (carryError)
      runtime: () => ({
        ...sourceJobRuntime(),
        worker: {
          eval: true,
          file: "require('node:worker_threads').parentPort.postMessage({ type: 'error', error: { code: 'RUNTIME_ERROR', message: 'msg', detail: 'the detail from the worker' } });",
        },
      }),
    });
    const { job, done } = jobs.runInProcess('eval', 'evaluating', 'eval', {});
    await expect(done).rejects.toMatchObject({ code: 'RUNTIME_ERROR', message: 'msg', detail: 'the detail from the worker' });
    expect(jobs.get(job.id)?.error).toStrictEqual({ code: 'RUNTIME_ERROR', message: 'msg' });
    expect(logged.join('\n')).toContain(`job ${job.id} (evaluating): RUNTIME_ERROR: msg`);
    expect(logged.join('\n')).toContain('detail: the detail from the worker');
  });
});

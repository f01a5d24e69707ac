/**
 * The API handlers with real ONNX Runtime through the in-memory transport: the same validation and
 * `{result}` / `{error}` encoding as IPC and WebSocket, without sockets.
 */
import { describe, expect, it } from 'vitest';
import { createApi } from '../../src/main/api/handlers.js';
import { ENGINE_VERSION } from '../../src/main/shared/version.js';
import { createInMemoryClient } from '../../src/main/transport/in-memory.js';

describe('API over the in-memory transport', () => {
  const api = createApi();
  const client = createInMemoryClient(api);

  it('app:info reports the engine version, ORT version, platform and the provider in use', async () => {
    const envelope = await client.invoke('app:info');
    if (!('result' in envelope)) throw new Error(envelope.error.message);
    const info = envelope.result;
    expect(info.engineVersion).toBe(ENGINE_VERSION);
    expect(info.ortVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.platform).toBe(`${process.platform}-${process.arch}`);
    expect(info.provider).toBe('cpu');
    // Every attempt before the one in use failed and says why; the last one is the provider in use.
    const last = info.providerAttempts.at(-1);
    expect(last).toEqual({ provider: info.provider, ok: true });
    for (const attempt of info.providerAttempts.slice(0, -1)) {
      expect(attempt.ok).toBe(false);
      expect(attempt.reason).toEqual(expect.any(String));
    }
  });

  it('encodes validation failures as INVALID_ARGUMENT naming the method and the key', async () => {
    const envelope = await client.invokeRaw('app:info', { verbose: true });
    expect(envelope).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/'app:info'.*verbose/) } });
  });

  it('encodes an unknown method as NOT_FOUND', async () => {
    expect(await client.invokeRaw('runs:explode', {})).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await client.invokeRaw(undefined, {})).toMatchObject({ error: { code: 'NOT_FOUND' } });
    // Prototype keys are not methods.
    expect(await client.invokeRaw('toString', {})).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('delivers events to subscribers until they unsubscribe', () => {
    const seen: string[] = [];
    const off = client.on('log:appended', (p) => seen.push(p.message));
    api.events.emit('log:appended', { level: 'info', message: 'one', time: 0 });
    off();
    api.events.emit('log:appended', { level: 'info', message: 'two', time: 0 });
    expect(seen).toEqual(['one']);
  });

  it('keeps delivering to other listeners when one throws', () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const offBad = api.events.on('log:appended', () => {
        throw new Error('listener bug');
      });
      const offGood = client.on('log:appended', (p) => seen.push(p.message));
      api.events.emit('log:appended', { level: 'warn', message: 'still delivered', time: 0 });
      offBad();
      offGood();
    } finally {
      console.error = original;
    }
    expect(seen).toEqual(['still delivered']);
    expect(errors).toHaveLength(1);
  });
});

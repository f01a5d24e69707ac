/** Calls through an in-memory client that read as the tests mean them: succeed, fail, or wait for a job. */
import type { InvokeArgs, InvokeMethod, InvokeResult, JobInfo } from '../../src/main/contract/index.js';
import type { Api } from '../../src/main/api/handlers.js';
import type { InMemoryClient } from '../../src/main/transport/in-memory.js';

export interface ApiCalls {
  /** The method's result; throws with the error's code and message if it failed. */
  ok<M extends InvokeMethod>(method: M, args?: InvokeArgs<M>): Promise<InvokeResult<M>>;
  /** The error of a call that must fail (unvalidated arguments allowed); throws if it succeeded. */
  fail<M extends InvokeMethod>(method: M, args: unknown): Promise<{ code: string; message: string; field?: string }>;
  /** Waits for a job to finish; returns its final info. */
  finished(jobId: string): Promise<JobInfo>;
}

/** A call that must succeed: its result, or an error with the method, code and message. `client` is read at call time. */
export function okCall(client: () => InMemoryClient): ApiCalls['ok'] {
  return async (method, args) => {
    const e = await client().invoke(method, args);
    if ('error' in e) throw new Error(`${method} failed: ${e.error.code} ${e.error.message}`);
    return e.result;
  };
}

/** `client` and `api` are read at call time, so tests may (re)assign them in `beforeAll`. */
export function apiCalls(client: () => InMemoryClient, api: () => Api): ApiCalls {
  return {
    ok: okCall(client),
    async fail(method, args) {
      const e = await client().invokeRaw(method, args);
      if (!('error' in e)) throw new Error(`${method} succeeded but should have failed`);
      return e.error as { code: string; message: string; field?: string };
    },
    finished(jobId) {
      return new Promise((resolve) => {
        const known = api().context.jobs.get(jobId);
        if (known && known.state !== 'running') return resolve(known);
        const off = client().on('job:updated', (j) => {
          if (j.id === jobId && j.state !== 'running') {
            off();
            resolve(j);
          }
        });
      });
    },
  };
}

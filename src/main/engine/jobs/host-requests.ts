/**
 * The worker side of a long-lived host process (engine/jobs/inference-host.ts supervises it):
 * answers `request` messages one at a time (sessions are not shared across concurrent runs) with
 * `answer(method, args)`, carrying errors back, says `ready` once listening, and returns after a
 * `stop` message once the request in progress is done.
 */
import { parentPort } from 'node:worker_threads';
import { carryError } from '../../shared/errors.js';

export async function answerRequests<M extends string>(methods: readonly M[], what: string, answer: (method: M, args: unknown) => Promise<unknown>): Promise<void> {
  const port = parentPort!;
  let queue: Promise<unknown> = Promise.resolve();
  await new Promise<void>((stop) => {
    port.on('message', (m: { type: string; id?: number; method?: string; args?: unknown }) => {
      if (m.type === 'stop') {
        void queue.then(() => stop());
        return;
      }
      if (m.type !== 'request') return;
      queue = queue.then(async () => {
        try {
          const method = m.method as M;
          if (!methods.includes(method)) throw new Error(`unknown ${what} method '${m.method}'`);
          port.postMessage({ type: 'response', id: m.id, result: await answer(method, m.args) });
        } catch (err) {
          port.postMessage({ type: 'response', id: m.id, error: carryError(err) });
        }
      });
    });
    port.postMessage({ type: 'ready' });
  });
}

/**
 * A long-lived worker thread for interactive inference (Compare: predictions, heatmaps): started
 * on first use, it keeps models, sessions and caches warm, answers requests one at a time and
 * never blocks the engine's event loop.
 */
import type { Worker } from 'node:worker_threads';
import { AppError, deserializeError, type SerializedError } from '../../api/errors.js';
import { startWorker, type WorkerScript } from './worker.js';

type Reply = { type: 'response'; id: number; result?: unknown; error?: SerializedError };

export class InferenceHost {
  private worker: Worker | null = null;
  /** Resolves once the worker listens for requests (messages sent earlier would be lost). */
  private ready: Promise<void> | null = null;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

  constructor(
    private readonly script: () => WorkerScript,
    private readonly payload: unknown,
  ) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    const script = this.script();
    const { worker: w } = startWorker(script, 'inference', this.payload);
    let markReady = () => {};
    this.ready = new Promise<void>((r) => (markReady = r));
    w.on('message', (m: Reply | { type: string }) => {
      if (m.type === 'ready') markReady();
      if (m.type !== 'response') return;
      const r = m as Reply;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error) p.reject(deserializeError(r.error));
      else p.resolve(r.result);
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker = null;
      this.ready = null;
      markReady();
    };
    w.on('error', (err) => failAll(new AppError('INTERNAL', `the inference worker failed: ${err.message}`)));
    w.on('exit', (code) => failAll(new AppError('INTERNAL', `the inference worker exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  async request<T>(method: string, args: unknown): Promise<T> {
    const w = this.start();
    await this.ready;
    if (this.worker !== w) throw new AppError('INTERNAL', 'the inference worker stopped before it was ready');
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ type: 'request', id, method, args });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    w.postMessage({ type: 'stop' });
    await Promise.race([new Promise((r) => w.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
    await w.terminate();
  }
}

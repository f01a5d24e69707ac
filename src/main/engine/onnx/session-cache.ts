/**
 * Sessions are expensive to create (graph optimisation, weight loading): keep the recent ones per
 * key, dispose the least recently used beyond a budget.
 */
import type { Model } from './ir.js';
import { createModelSession, type Session, type SessionOptions } from './runtime.js';

export class SessionCache {
  private readonly entries = new Map<string, Promise<Session>>();

  constructor(private readonly capacity = 8) {}

  /** The session for `key`, building the model and creating the session on first use. */
  get(key: string, build: () => Model | Promise<Model>, options: SessionOptions = {}): Promise<Session> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const created = (async () => createModelSession(await build(), options))();
    this.entries.set(key, created);
    created.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) {
      const [oldKey, oldest] = this.entries.entries().next().value as [string, Promise<Session>];
      this.entries.delete(oldKey);
      oldest.then((s) => s.dispose()).catch(() => {});
    }
    return created;
  }

  /** Registers a session created elsewhere (e.g. from a compiled file). */
  getOrCreate(key: string, create: () => Promise<Session>): Promise<Session> {
    const hit = this.entries.get(key);
    if (hit) return hit;
    const created = create();
    this.entries.set(key, created);
    created.catch(() => this.entries.delete(key));
    return created;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((p) => p.then((s) => s.dispose()).catch(() => {})));
  }
}

/**
 * Sessions are expensive to create (graph optimisation, weight loading): keep the recent ones per
 * key, dispose the least recently used beyond a budget.
 *
 * Sessions may name the model parts whose weights they hold ('unet', 'text'): at most one live
 * session holds a part, so a model part's weights are mapped once per process whichever graphs
 * use them (a training step graph and the feature graph of validation take turns). Getting a
 * session evicts the others that share one of its parts, once their runs in flight are done.
 * Weights are memory-mapped (runtime.ts), so bringing an evicted session back costs a graph load,
 * not a weight copy.
 */
import type { Model } from './ir.js';
import { createModelSession, type ProviderName, type Session, type SessionOptions } from './runtime.js';

interface Entry {
  session: Promise<Session>;
  parts: readonly string[];
  /** Runs in flight on this session. */
  running: number;
  idle: (() => void)[];
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  /** Every provider a session of this cache was opened on (evicted ones included). */
  private readonly used = new Set<ProviderName>();

  constructor(private readonly capacity = 8) {}

  /** The providers this cache's sessions have run on, each once, in the order first used: what a command says it ran on. */
  providersUsed(): ProviderName[] {
    return [...this.used];
  }

  /** The session for `key`, building the model and creating the session on first use. */
  get(key: string, build: () => Model | Promise<Model>, options: SessionOptions = {}, parts: readonly string[] = []): Promise<Session> {
    return this.getOrCreate(key, async () => createModelSession(await build(), options), parts);
  }

  /** The session for `key`, created by `create` on first use (e.g. from a compiled file). */
  getOrCreate(key: string, create: () => Promise<Session>, parts: readonly string[] = []): Promise<Session> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.session;
    }
    const evicted = [...this.entries].filter(([, e]) => e.parts.some((p) => parts.includes(p)));
    for (const [k] of evicted) this.entries.delete(k);
    const entry: Entry = { session: null as unknown as Promise<Session>, parts, running: 0, idle: [] };
    entry.session = (async () => {
      // the weights of a part are released before another session maps them again
      await Promise.all(evicted.map(([, e]) => this.release(e)));
      return this.track(await create(), entry);
    })();
    this.entries.set(key, entry);
    entry.session.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) {
      const [oldKey, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldKey);
      void this.release(oldest);
    }
    return entry.session;
  }

  /** Keys of the live sessions (least recently used first). */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Counts runs in flight so that an evicted session is disposed only when they are done. */
  private track(s: Session, entry: Entry): Session {
    this.used.add(s.provider);
    const run: Session['run'] = async (feeds, outputs) => {
      entry.running++;
      try {
        return await s.run(feeds, outputs);
      } finally {
        entry.running--;
        if (entry.running === 0) for (const f of entry.idle.splice(0)) f();
      }
    };
    return { ...s, run };
  }

  private async release(e: Entry): Promise<void> {
    let s: Session;
    try {
      s = await e.session;
    } catch {
      return;
    }
    if (e.running > 0) await new Promise<void>((r) => e.idle.push(r));
    await s.dispose().catch(() => {});
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.release(e)));
  }
}

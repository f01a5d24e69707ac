/**
 * A long server-side list fetched a page at a time as a virtualised view scrolls: only the pages
 * around the visible rows are requested, each once, and a change of query drops answers to the
 * old one.
 */
import { SvelteMap } from 'svelte/reactivity';
import { handleError } from '../errors.js';

export const PAGE_SIZE = 240;

export type PageFetcher<T, Q> = (query: Q, offset: number, limit: number) => Promise<{ total: number; items: T[] }>;

export class Paged<T, Q> {
  /** -1 until the first page arrives. */
  total = $state(-1);
  readonly items = new SvelteMap<number, T>();
  loading = $state(false);
  query: Q | null = null;
  private readonly pages = new Set<number>();
  private generation = 0;

  constructor(
    private readonly fetcher: PageFetcher<T, Q>,
    private readonly what: string,
  ) {}

  /** Starts over with another query (the first page is fetched at once). */
  reset(query: Q | null): Promise<void> {
    this.generation++;
    this.query = query;
    this.items.clear();
    this.pages.clear();
    this.total = -1;
    if (query === null) return Promise.resolve();
    return this.fetchPage(0);
  }

  /** Fetches the current query again from the start (after a change on the server). */
  refresh(): Promise<void> {
    return this.reset(this.query);
  }

  /** Makes sure items first..last are loaded or on their way. */
  ensure(first: number, last: number): void {
    if (this.query === null) return;
    const from = Math.floor(Math.max(0, first) / PAGE_SIZE);
    const to = Math.floor(Math.max(0, last) / PAGE_SIZE);
    for (let p = from; p <= to; p++) if (!this.pages.has(p) && (this.total < 0 || p * PAGE_SIZE < this.total)) void this.fetchPage(p);
  }

  /** The item at `index`, fetching its page when needed. */
  async at(index: number): Promise<T | undefined> {
    if (index < 0 || (this.total >= 0 && index >= this.total)) return undefined;
    const have = this.items.get(index);
    if (have) return have;
    await this.fetchPage(Math.floor(index / PAGE_SIZE), true);
    return this.items.get(index);
  }

  /** Replaces loaded items that match (e.g. a count changed). */
  update(match: (item: T) => boolean, change: (item: T) => T): void {
    for (const [i, item] of this.items) if (match(item)) this.items.set(i, change(item));
  }

  private async fetchPage(page: number, force = false): Promise<void> {
    if (this.pages.has(page) && !force) return;
    this.pages.add(page);
    const q = this.query;
    if (q === null) return;
    const gen = this.generation;
    this.loading = true;
    try {
      const r = await this.fetcher(q, page * PAGE_SIZE, PAGE_SIZE);
      if (gen !== this.generation) return;
      this.total = r.total;
      r.items.forEach((item, i) => this.items.set(page * PAGE_SIZE + i, item));
    } catch (err) {
      if (gen === this.generation) {
        this.pages.delete(page);
        handleError(err, `Listing ${this.what}`);
      }
    } finally {
      if (gen === this.generation) this.loading = false;
    }
  }
}

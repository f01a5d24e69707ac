/**
 * Files in the cache folder (thumbnails, VAE latents, features, compiled graphs) indexed by key,
 * with sizes and use times for least-recently-used cleanup. The files themselves are managed by
 * their owners; this repository only records them.
 */
import { type Db, now, prepareCached } from '../db.js';

export interface CacheEntry {
  key: string;
  kind: string;
  /** Absolute path of the cached file. */
  path: string;
  bytes: number;
  sha256: string | null;
  meta: Record<string, unknown>;
  /** The execution provider that computed it (null for files that are not a computation's). */
  provider: string | null;
  createdAt: number;
  lastUsedAt: number;
}

interface CacheRow {
  key: string;
  kind: string;
  path: string;
  bytes: number;
  sha256: string | null;
  meta: string;
  provider: string | null;
  created_at: number;
  last_used_at: number;
}

function toEntry(r: CacheRow): CacheEntry {
  return {
    key: r.key,
    kind: r.kind,
    path: r.path,
    bytes: r.bytes,
    sha256: r.sha256,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    provider: r.provider,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

export class CacheRepo {
  constructor(private readonly db: Db) {}

  get(key: string): CacheEntry | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM cache_entries WHERE key = ?').get(key) as CacheRow | undefined;
    return r && toEntry(r);
  }

  put(e: { key: string; kind: string; path: string; bytes: number; sha256?: string | null; meta?: Record<string, unknown>; provider?: string | null }): void {
    const t = now();
    prepareCached(
      this.db,
      `INSERT INTO cache_entries (key, kind, path, bytes, sha256, meta, provider, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256,
         meta = excluded.meta, provider = excluded.provider, created_at = excluded.created_at, last_used_at = excluded.last_used_at`,
    ).run(e.key, e.kind, e.path, e.bytes, e.sha256 ?? null, JSON.stringify(e.meta ?? {}), e.provider ?? null, t, t);
  }

  touch(key: string): void {
    prepareCached(this.db, 'UPDATE cache_entries SET last_used_at = ? WHERE key = ?').run(now(), key);
  }

  delete(key: string): void {
    prepareCached(this.db, 'DELETE FROM cache_entries WHERE key = ?').run(key);
  }

  totalBytes(kind?: string): number {
    const r = prepareCached(this.db, 'SELECT coalesce(sum(bytes), 0) AS n FROM cache_entries WHERE (@kind IS NULL OR kind = @kind)').get({ kind: kind ?? null }) as { n: number };
    return r.n;
  }

  /**
   * The least recently used entries to drop so that at most `maxBytes` remain (of one kind, or of
   * all). The caller deletes the files, then the entries.
   */
  evictionCandidates(maxBytes: number, kind?: string): CacheEntry[] {
    let total = this.totalBytes(kind);
    const out: CacheEntry[] = [];
    if (total <= maxBytes) return out;
    const rows = prepareCached(this.db, 'SELECT * FROM cache_entries WHERE (@kind IS NULL OR kind = @kind) ORDER BY last_used_at, key').iterate({ kind: kind ?? null }) as IterableIterator<CacheRow>;
    for (const r of rows) {
      if (total <= maxBytes) break;
      out.push(toEntry(r));
      total -= r.bytes;
    }
    return out;
  }
}

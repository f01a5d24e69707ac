/**
 * Every row of every table of a SQLite file, for "the database is unchanged" assertions.
 * Opened read-only on its own connection (what another process would see).
 */
import Database from 'better-sqlite3';

export type Snapshot = Record<string, unknown[]>;

/** Columns that change on every write and do not say anything about content. */
export const TIMESTAMP_COLUMNS = new Set(['created_at', 'updated_at', 'last_import', 'recorded_at', 'last_used_at']);

export function snapshotDb(file: string, options: { ignoreTimestamps?: boolean } = {}): Snapshot {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const out: Snapshot = {};
    for (const t of tables) {
      const cols = (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string; pk: number }[]).map((c) => c.name);
      const rows = db.prepare(`SELECT * FROM ${t} ORDER BY ${cols.map((c) => `"${c}"`).join(', ')}`).all() as Record<string, unknown>[];
      out[t] = rows.map((r) => {
        const o: Record<string, unknown> = {};
        for (const c of cols) {
          if (options.ignoreTimestamps && TIMESTAMP_COLUMNS.has(c)) continue;
          const v = r[c];
          o[c] = Buffer.isBuffer(v) ? `blob:${v.toString('hex')}` : v;
        }
        return o;
      });
    }
    return out;
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` on a fresh connection: 'ok' when the file is sound. */
export function integrityCheck(file: string): string {
  const db = new Database(file, { fileMustExist: true });
  try {
    return (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

export function countRows(file: string, table: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

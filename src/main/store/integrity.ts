/**
 * Is the database file sound? SQLite's `PRAGMA quick_check` at start-up and on every backup, with
 * its findings said in the user's terms (which table's pages are damaged). The refusal of a damaged
 * store, with the way out, is in backup.ts (`damagedStoreError`).
 *
 * The check is bounded by size rather than by a clock: better-sqlite3 cannot interrupt a running
 * statement, and `quick_check` reads every page of the file once, so its time is the time to read
 * the file (measured: 0.13 s for 140 MB and 0.26 s for 550 MB from the page cache; a few seconds per
 * GiB from a cold disk). Files up to `QUICK_CHECK_MAX_BYTES` (1 GiB) are checked in full at every
 * open; a larger file is opened with only its header and schema read, and `sd4match db check`
 * checks it in full on request. `quick_check` (not `integrity_check`) skips the index-against-table
 * comparison, which costs more than the page walk and finds nothing the page walk misses on a disk
 * that lost or garbled pages; `quick_check(N)` stops after N problems.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Db } from './sql.js';

/** Files up to this size are checked in full when the store opens (see the module comment). */
export const QUICK_CHECK_MAX_BYTES = 1024 ** 3;
/** `quick_check` stops after this many problems: enough to say where the damage is. */
export const QUICK_CHECK_MAX_PROBLEMS = 20;

export interface IntegrityReport {
  /** No problem found (or the check was skipped: see `checked`). */
  ok: boolean;
  /** 'full': every page walked; 'schema': the file was larger than the limit, only its schema read. */
  checked: 'full' | 'schema';
  /** SQLite's own lines, at most `QUICK_CHECK_MAX_PROBLEMS`. */
  problems: string[];
  /** One sentence for the user: where the damage is. */
  summary: string;
  ms: number;
}

/** Where a b-tree (a table or an index) starts: its root page -> what the user would call it. */
function treeNames(db: Db): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const r of db.prepare('SELECT type, name, tbl_name, rootpage FROM sqlite_schema WHERE rootpage > 0').all() as { type: string; name: string; tbl_name: string; rootpage: number }[]) {
      names.set(r.rootpage, r.type === 'index' ? `index ${r.name} of table ${r.tbl_name}` : `table ${r.name}`);
    }
  } catch {
    // the schema itself is unreadable: the summary names trees by number
  }
  return names;
}

function pageRanges(pages: number[]): string {
  const sorted = [...new Set(pages)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** `quick_check`'s lines as one sentence: the damaged pages per table, or SQLite's first lines. */
export function summarizeProblems(problems: readonly string[], names: ReadonlyMap<number, string>): string {
  const byTree = new Map<number, number[]>();
  const other: string[] = [];
  for (const line of problems) {
    if (line.startsWith('*** in database')) continue;
    const m = /^Tree (\d+) page (\d+)/.exec(line);
    if (m) {
      const tree = Number(m[1]);
      const list = byTree.get(tree) ?? [];
      list.push(Number(m[2]));
      byTree.set(tree, list);
    } else {
      other.push(line);
    }
  }
  const parts = [...byTree].map(([tree, pages]) => `damaged page${pages.length > 1 ? 's' : ''} ${pageRanges(pages)} in ${names.get(tree) ?? `b-tree ${tree}`}`);
  for (const line of other.slice(0, Math.max(1, 3 - parts.length))) parts.push(`"${line}"`);
  const more = problems.length >= QUICK_CHECK_MAX_PROBLEMS ? ' (the check stopped there; there may be more)' : '';
  return `${parts.join('; ')}${more}`;
}

/**
 * What the 100-byte header of an SQLite file says is wrong with the file before SQLite reads it:
 * a file shorter than the size its header records (cut short by a full disk, a failed copy). Null
 * when the header is sound or is not an SQLite header at all (SQLite itself then says NOTADB), and
 * whenever a WAL or rollback journal with content lies beside it: a checkpoint interrupted by a
 * crash writes page 1 (the new size) before the pages that extend the file, and the WAL, which
 * SQLite reads first, still holds them, so such a file is sound.
 */
export function headerProblem(file: string): string | null {
  for (const side of [`${file}-wal`, `${file}-journal`]) if ((fs.statSync(side, { throwIfNoEntry: false })?.size ?? 0) > 0) return null;
  const header = Buffer.alloc(100);
  let size: number;
  const fd = fs.openSync(file, 'r');
  try {
    size = fs.fstatSync(fd).size;
    if (fs.readSync(fd, header, 0, 100, 0) < 100) return null;
  } finally {
    fs.closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return null;
  const raw = header.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const pages = header.readUInt32BE(28);
  // the size field is only valid when the change counter matches its version-valid-for number
  const valid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92);
  if (!valid || pageSize < 512) return null;
  const expected = pages * pageSize;
  if (size < expected) return `the file is cut short: ${size} bytes of the ${expected} its header records (${pages} pages of ${pageSize} bytes)`;
  return null;
}

/**
 * `PRAGMA quick_check` on an open connection. SQLITE_CORRUPT / SQLITE_NOTADB thrown while checking
 * are reported as problems, not thrown. `maxBytes` (default `QUICK_CHECK_MAX_BYTES`; Infinity for
 * a full check of any size) bounds the work, see the module comment.
 */
export function quickCheck(db: Db, file: string, options: { maxBytes?: number } = {}): IntegrityReport {
  const t0 = Date.now();
  const maxBytes = options.maxBytes ?? QUICK_CHECK_MAX_BYTES;
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch {
    // a new (not yet written) file: nothing to walk
  }
  try {
    if (size > maxBytes) {
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      return { ok: true, checked: 'schema', problems: [], summary: '', ms: Date.now() - t0 };
    }
    const rows = db.pragma(`quick_check(${QUICK_CHECK_MAX_PROBLEMS})`) as { quick_check: string }[];
    const problems = rows.flatMap((r) => r.quick_check.split('\n')).filter((l) => l !== '');
    if (problems.length === 1 && problems[0] === 'ok') return { ok: true, checked: 'full', problems: [], summary: '', ms: Date.now() - t0 };
    return { ok: false, checked: 'full', problems, summary: summarizeProblems(problems, treeNames(db)), ms: Date.now() - t0 };
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))) {
      const message = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        checked: 'full',
        problems: [message],
        summary: code === 'SQLITE_NOTADB' ? 'its header is not that of an SQLite database' : `SQLite reports "${message}"`,
        ms: Date.now() - t0,
      };
    }
    throw err;
  }
}

/** `quickCheck` of a file on a connection of its own (a backup, a file not opened as the store). */
export function checkFile(file: string, options: { maxBytes?: number } = {}): IntegrityReport {
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return quickCheck(db, file, options);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, checked: 'full', problems: [message], summary: `it cannot be read (${message})`, ms: 0 };
  } finally {
    db?.close();
  }
}

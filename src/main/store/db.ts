/**
 * The SQLite store (better-sqlite3): one database file shared by the UI, the CLI and training.
 *
 * - WAL journal, so readers never wait for a writer and a writer never waits for readers;
 *   `synchronous = NORMAL` (durable against a crash of the process, and the database stays
 *   consistent on power loss); foreign keys on.
 * - Versioned migrations (`migrations/NNNN-*.ts`, never edited once shipped) run on open, each in
 *   its own transaction; `PRAGMA user_version` holds the schema version and `application_id`
 *   marks the file as ours. A database from a newer version is refused, naming both versions.
 * - Lock waits never block the event loop for long: each connection waits at most
 *   `busyTimeoutMs` inside SQLite, and `read()` / `write()` retry asynchronously (with backoff)
 *   until `retryDeadlineMs`, so a long import in another connection or process shows up as a
 *   short delay, never as `SQLITE_BUSY`.
 * - A damaged file is refused before anything is written to it: an existing database is checked
 *   with `PRAGMA quick_check` when it opens (integrity.ts: bounded by size), and the refusal names
 *   the file, what is wrong and the newest good backup (backup.ts), which is made while the store is
 *   in use, at most once a day when it opens or closes. SQLite's own corruption and disk-full errors
 *   raised later, anywhere in the process, are told the same way (`explainError` in shared/errors).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AppError, addErrorExplainer, diskFullError, isDiskFullError, isStoreCorruptionError } from '../shared/errors.js';
import { backupIfDue, damagedStoreError, listBackups, makeBackup, type BackupInfo, type BackupPolicy } from './backup.js';
import { headerProblem, quickCheck } from './integrity.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Migration } from './sql.js';

export type { Db, Statement } from './sql.js';
import type { Db, Statement } from './sql.js';

/** `PRAGMA application_id` of workstation databases: 'SD4M'. */
export const APPLICATION_ID = 0x5344344d;

export interface StoreOptions {
  /** Cache folder (thumbnails, feature caches). Default: `<file>-cache` beside the database. */
  cacheDir?: string;
  /** How long one SQLite call waits for a lock before giving up (default 50 ms). */
  busyTimeoutMs?: number;
  /** How long `read()` / `write()` keep retrying a locked database (default 120 s). */
  retryDeadlineMs?: number;
  /** Migrations to apply (tests); default the shipped list. */
  migrations?: readonly Migration[];
  /** Check an existing file with `quick_check` before using it (default true); see integrity.ts. */
  check?: boolean;
  /** Larger files get only their schema read at open (default `QUICK_CHECK_MAX_BYTES`, 1 GiB). */
  checkMaxBytes?: number;
  /** Rotating backups (default: at most one a day, 5 kept, in `<file>-backups/`); false for none. */
  backups?: BackupPolicy | false;
}

const DEFAULT_BUSY_TIMEOUT_MS = 50;
const OPEN_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_RETRY_DEADLINE_MS = 120_000;

/** SQLite reports a lock held by another connection (or a transient recovery lock). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` (synchronous SQLite work), retrying with backoff while the database is locked.
 * Throws STORE_BUSY once `deadlineMs` has passed.
 */
export async function withBusyRetry<T>(fn: () => T, deadlineMs = DEFAULT_RETRY_DEADLINE_MS, what = 'the database'): Promise<T> {
  const start = Date.now();
  let delay = 2;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusyError(err)) throw err;
      if (Date.now() - start >= deadlineMs) {
        throw new AppError('STORE_BUSY', `${what} stayed locked by another writer for ${Math.round(deadlineMs / 1000)}s; try again when the import or run holding it has finished`, String(err));
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}

const statementCache = new WeakMap<Db, Map<string, Statement>>();

/** A prepared statement, compiled once per connection. */
export function prepareCached(db: Db, sql: string): Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt;
}

function translateOpenError(err: unknown, file: string): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB') {
    // a file we have backups of was ours: its header is damaged; anything else was never a database
    if (listBackups(file).length > 0) return damagedStoreError(file, 'its header is not that of an SQLite database any more');
    return new AppError('STORE_INVALID', `${file} is not an SQLite database`, message);
  }
  if (isStoreCorruptionError(err)) return damagedStoreError(file, `SQLite reports "${message}"`);
  if (isDiskFullError(err)) return diskFullError(`the database ${file}`, path.dirname(file), err);
  if (typeof code === 'string' && code.startsWith('SQLITE_CANTOPEN')) return new AppError('STORE_INVALID', `cannot open the database ${file}: ${message}`, message);
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) return new AppError('STORE_INVALID', `the database ${file} is read-only: ${message}`, message);
  return err;
}

function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** The schema version this code writes (the last migration's). */
export function latestSchemaVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list is out of order: entry ${i} is version ${m.version} (${m.name}), expected ${i + 1}`);
  });
}

/** Refuses files that are not ours and databases newer than this code. */
function checkIdentity(db: Db, file: string, latest: number): number {
  const version = userVersion(db);
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw new AppError('STORE_INVALID', `${file} is an SQLite database of another application (application_id 0x${(appId >>> 0).toString(16)}), not an SD4Match Workstation database`);
  }
  if (appId === 0) {
    const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n;
    if (version !== 0 || tables > 0) {
      throw new AppError('STORE_INVALID', `${file} is an SQLite database that SD4Match Workstation did not create (it has ${tables} tables and no workstation schema); use another --db`);
    }
  }
  if (version > latest) {
    throw new AppError(
      'STORE_VERSION',
      `${file} was written by a newer version of SD4Match Workstation (database schema version ${version}); this version understands schema versions up to ${latest}. Update the workstation, or use another --db.`,
    );
  }
  return version;
}

/** Applies pending migrations, each in its own IMMEDIATE transaction (re-checking the version under the lock). */
function migrate(db: Db, file: string, migrations: readonly Migration[]): void {
  const latest = latestSchemaVersion(migrations);
  if (userVersion(db) === latest) return;
  for (const m of migrations) {
    if (m.version <= userVersion(db)) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      const current = checkIdentity(db, file, latest);
      if (current >= m.version) {
        db.exec('COMMIT'); // another process got there first
        continue;
      }
      m.up(db);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${m.version}`);
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      if (err instanceof AppError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`database migration ${String(m.version).padStart(4, '0')}-${m.name} failed on ${file}: ${message}`, { cause: err });
    }
  }
}

/**
 * The files of the stores open in this process, for `explainError`: a corruption or disk-full
 * error from SQLite does not say which database it came from, so the message names the one open
 * (every process opens one; tests may open several, then all are named).
 */
const openFiles = new Map<string, number>();
let removeExplainer: (() => void) | null = null;

function explainStoreError(err: unknown): AppError | undefined {
  const files = [...openFiles.keys()];
  // only SQLite's own errors: a full disk met by a file write is not the database's
  const code = (err as { code?: unknown } | null)?.code;
  if (files.length === 0 || typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (files.length > 1) {
    if (isDiskFullError(err)) return diskFullError(`one of the databases ${files.join(', ')}`, undefined, err);
    return new AppError(
      'STORE_INVALID',
      `one of the databases ${files.join(', ')} is damaged (SQLite reports "${message}"); close the workstation and run \`sd4match --db FILE db check\` on each`,
      message,
    );
  }
  const file = files[0]!;
  if (isDiskFullError(err)) return diskFullError(`to the database ${file}`, path.dirname(file), err);
  const e = damagedStoreError(file, `SQLite reports "${message}" while reading it`);
  // where it was met goes to the log (the message is the client's whole story)
  return new AppError(e.code, e.message, err instanceof Error && err.stack ? err.stack : message);
}

function trackOpen(file: string): void {
  openFiles.set(file, (openFiles.get(file) ?? 0) + 1);
  removeExplainer ??= addErrorExplainer(explainStoreError);
}

function trackClosed(file: string): void {
  const n = (openFiles.get(file) ?? 1) - 1;
  if (n > 0) openFiles.set(file, n);
  else openFiles.delete(file);
}

function configure(db: Db, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
}

export class Store {
  /** The main connection (reads, short writes). */
  readonly db: Db;
  private readonly extra = new Set<Db>();
  private closed = false;

  private constructor(
    readonly file: string,
    readonly cacheDir: string,
    db: Db,
    private readonly busyTimeoutMs: number,
    readonly retryDeadlineMs: number,
    private readonly backups: BackupPolicy | false,
  ) {
    this.db = db;
    trackOpen(file);
  }

  /**
   * Opens (creating if needed) the database at `file`, checks an existing one (`quick_check`),
   * switches it to WAL, runs pending migrations and makes a backup when one is due. Throws
   * STORE_VERSION for a newer schema, STORE_INVALID for a file that is not a workstation database
   * or is damaged (naming the newest good backup and how to restore it).
   */
  static open(file: string, options: StoreOptions = {}): Store {
    const abs = path.resolve(file);
    const migrations = options.migrations ?? MIGRATIONS;
    checkMigrationList(migrations);
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const backups = options.backups ?? {};
    let db: Db | undefined;
    let existed: boolean;
    try {
      const stat = fs.statSync(abs, { throwIfNoEntry: false });
      if (stat?.isDirectory()) throw new AppError('STORE_INVALID', `${abs} is a directory, not a database file`);
      existed = stat !== undefined && stat.size > 0;
      // SQLite takes an empty file for a new database; one we have backups of was emptied by accident
      if (stat !== undefined && stat.size === 0 && listBackups(abs).length > 0) throw damagedStoreError(abs, 'the file is empty (0 bytes) although it has backups');
      const cut = existed && options.check !== false ? headerProblem(abs) : null;
      if (cut) throw damagedStoreError(abs, cut);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      db = new Database(abs);
      // Opening may meet another process's migration or WAL recovery: wait longer, once.
      db.pragma(`busy_timeout = ${Math.max(busyTimeoutMs, OPEN_BUSY_TIMEOUT_MS)}`);
      checkIdentity(db, abs, latestSchemaVersion(migrations));
      // before anything is written to it (WAL switch, migrations)
      if (existed && options.check !== false) {
        const report = quickCheck(db, abs, options.checkMaxBytes === undefined ? {} : { maxBytes: options.checkMaxBytes });
        if (!report.ok) throw damagedStoreError(abs, `SQLite's quick_check found ${report.summary}`);
      }
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new AppError('STORE_INVALID', `cannot switch ${abs} to WAL mode (got '${String(mode)}'); is it on a network file system?`);
      db.pragma('foreign_keys = ON');
      migrate(db, abs, migrations);
      configure(db, busyTimeoutMs);
    } catch (err) {
      db?.close();
      throw translateOpenError(err, abs);
    }
    // a new file has nothing to keep yet; an existing one has just passed its check
    if (existed && backups !== false) backupIfDue(db, abs, backups);
    return new Store(abs, path.resolve(options.cacheDir ?? `${abs}-cache`), db, busyTimeoutMs, options.retryDeadlineMs ?? DEFAULT_RETRY_DEADLINE_MS, backups);
  }

  /** Makes a backup now (see backup.ts), whether or not one is due. */
  backup(): BackupInfo {
    this.assertOpen();
    return makeBackup(this.db, this.file, this.backups === false ? {} : this.backups);
  }

  /**
   * Another connection to the same database (already migrated). A long write that yields to the
   * event loop mid-transaction (an import) uses its own connection, so this store's main
   * connection keeps serving reads from the last committed state meanwhile. Closed with the store.
   */
  connect(): Db {
    this.assertOpen();
    const db = new Database(this.file);
    configure(db, this.busyTimeoutMs);
    this.extra.add(db);
    return db;
  }

  /** Closes a connection from `connect()`. */
  release(db: Db): void {
    if (this.extra.delete(db) && db.open) {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
    }
  }

  /** Runs `fn` in a read transaction (one consistent snapshot), retrying while locked. */
  read<T>(fn: (db: Db) => T): Promise<T> {
    this.assertOpen();
    const tx = this.db.transaction(() => noPromise(fn(this.db)));
    return withBusyRetry(() => tx.deferred(), this.retryDeadlineMs, this.file);
  }

  /** Runs `fn` in a write (IMMEDIATE) transaction, retrying while another writer holds the lock. */
  write<T>(fn: (db: Db) => T): Promise<T> {
    this.assertOpen();
    const tx = this.db.transaction(() => noPromise(fn(this.db)));
    return withBusyRetry(() => tx.immediate(), this.retryDeadlineMs, this.file);
  }

  /**
   * A long write (an import, building pairs) in one IMMEDIATE transaction on a connection of its
   * own, so `fn` may await (yield to the event loop, report progress) while the transaction is
   * open: committed when `fn` resolves, rolled back when it throws (all-or-nothing).
   */
  async writeLong<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const db = this.connect();
    try {
      await withBusyRetry(() => db.exec('BEGIN IMMEDIATE'), this.retryDeadlineMs, this.file);
      const result = await fn(db);
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    } finally {
      this.release(db);
    }
  }

  /** Synchronous read for callers that cannot await (waits at most the busy timeout). */
  readSync<T>(fn: (db: Db) => T): T {
    this.assertOpen();
    return this.db.transaction(() => noPromise(fn(this.db))).deferred();
  }

  /** Synchronous write (waits at most the busy timeout); prefer `write()`. */
  writeSync<T>(fn: (db: Db) => T): T {
    this.assertOpen();
    return this.db.transaction(() => noPromise(fn(this.db))).immediate();
  }

  /** Schema version of the open database. */
  schemaVersion(): number {
    return userVersion(this.db);
  }

  /** Bytes on disk: the database file plus its WAL. */
  sizeOnDisk(): number {
    let n = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        n += fs.statSync(f).size;
      } catch {
        // absent WAL
      }
    }
    return n;
  }

  /** Copies the WAL into the database file and truncates it (e.g. before measuring or backing up). */
  checkpoint(): void {
    this.assertOpen();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const db of this.extra) {
      if (db.open) {
        if (db.inTransaction) db.exec('ROLLBACK');
        db.close();
      }
    }
    this.extra.clear();
    try {
      this.db.pragma('optimize');
    } catch {
      // best effort
    }
    // the day's work, kept when the app quits (at most one a day; never fails the close)
    if (this.backups !== false && !this.db.inTransaction) backupIfDue(this.db, this.file, this.backups);
    this.db.close();
    trackClosed(this.file);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`the store ${this.file} is closed`);
  }
}

function noPromise<T>(value: T): T {
  if (value && typeof (value as { then?: unknown }).then === 'function') {
    throw new Error('store transactions are synchronous: do not pass an async function to read()/write()');
  }
  return value;
}

/** Milliseconds since the epoch (every timestamp column). */
export function now(): number {
  return Date.now();
}

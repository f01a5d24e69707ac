/**
 * Rotating backups of the database, made while it is in use, and the way out of a damaged store.
 *
 * - Where: `<file>-backups/` beside the database (paths.ts `backupDirFor`), named
 *   `<name>-<UTC time>.db` (`workstation-2025-01-31T09-15-02.123Z.db`). Each is a complete SQLite
 *   file in rollback-journal mode: `--db` opens it as it is, `sd4match db restore` puts it back.
 * - How: `VACUUM INTO` on the store's own connection. It reads one consistent snapshot in a read
 *   transaction, which in WAL mode never blocks writers (other connections and processes keep
 *   writing meanwhile), and writes a compacted copy under a temporary name that is synced, checked
 *   with `quick_check` and only then renamed into place; a copy that fails its check is deleted.
 *   Why not the online backup API (`db.backup()`): it is asynchronous (Store.open and close are
 *   not), and it restarts its copy whenever another connection writes, so a busy store may never
 *   finish one.
 * - When: when the store opens (after its own check passed) and when it closes, at most once per
 *   `everyMs` (24 h) judged by the newest backup's time, across processes (a lock file keeps two
 *   from copying at once); the newest `keep` (5) are kept. A backup that cannot be made (disk
 *   nearly full, a damaged page) is logged and never stops the store from opening or closing.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AppError, diskFullError, isDiskFullError } from '../shared/errors.js';
import { logError } from '../shared/log.js';
import type { Db } from './sql.js';
import { checkFile } from './integrity.js';
import { backupDirFor } from './paths.js';

/** A backup is made when the newest one is older than this (24 h). */
export const BACKUP_EVERY_MS = 24 * 3600 * 1000;
/** How many backups are kept (the newest). */
export const BACKUPS_KEPT = 5;
/** A lock older than this belongs to a process that died while copying. */
const STALE_LOCK_MS = 10 * 60 * 1000;

export interface BackupPolicy {
  /** Folder of the backups (default `<file>-backups/`). */
  dir?: string;
  /** Minimum time between two backups (default 24 h). */
  everyMs?: number;
  /** How many to keep (default 5). */
  keep?: number;
}

export interface BackupInfo {
  file: string;
  /** When it was made (from its name, which copying it keeps). */
  time: Date;
  bytes: number;
}

const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z$/;

/** `workstation.db` -> `workstation`: the start of its backups' names. */
function stemOf(dbFile: string): string {
  return path.basename(dbFile).replace(/\.(db|sqlite3?)$/i, '');
}

function stampOf(d: Date): string {
  return d.toISOString().replace(/:/g, '-');
}

function timeOf(name: string, stem: string): Date | null {
  if (!name.startsWith(`${stem}-`) || !name.endsWith('.db')) return null;
  const s = name.slice(stem.length + 1, -3);
  if (!STAMP.test(s)) return null;
  return new Date(s.replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3'));
}

/** The backups of `dbFile`, newest first. */
export function listBackups(dbFile: string, dir = backupDirFor(dbFile)): BackupInfo[] {
  const stem = stemOf(dbFile);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: BackupInfo[] = [];
  for (const name of names) {
    const time = timeOf(name, stem);
    if (!time) continue;
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (st.isFile()) out.push({ file, time, bytes: st.size });
    } catch {
      // removed meanwhile (another process rotating)
    }
  }
  return out.sort((a, b) => b.time.getTime() - a.time.getTime());
}

/** The newest backup that passes `quick_check` now, or null (checked newest first). */
export function newestGoodBackup(dbFile: string, dir = backupDirFor(dbFile)): BackupInfo | null {
  for (const b of listBackups(dbFile, dir)) if (checkFile(b.file).ok) return b;
  return null;
}

function removeQuietly(file: string): void {
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // not supported (Windows): the rename is still atomic
  }
}

/**
 * Copies the database open on `db` (the file `dbFile`) into a new backup now, checks the copy and
 * rotates the folder to `keep`. Throws DISK_FULL on a full disk, STORE_INVALID when the copy fails
 * its check; leaves no partial file behind either way.
 */
export function makeBackup(db: Db, dbFile: string, policy: BackupPolicy = {}, now = new Date()): BackupInfo {
  const dir = policy.dir ?? backupDirFor(dbFile);
  fs.mkdirSync(dir, { recursive: true });
  const final = path.join(dir, `${stemOf(dbFile)}-${stampOf(now)}.db`);
  const tmp = `${final}.${process.pid}.tmp`;
  try {
    db.prepare('VACUUM INTO ?').run(tmp);
    // a backup is one self-contained file: rollback journal, not WAL (which needs its -shm)
    const copy = new Database(tmp);
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    const report = checkFile(tmp, { maxBytes: Infinity });
    if (!report.ok) throw new AppError('STORE_INVALID', `the backup of ${dbFile} failed its check (${report.summary}); it was not kept`);
    fsyncFile(tmp);
    fs.renameSync(tmp, final);
    fsyncDir(dir);
  } catch (err) {
    removeQuietly(tmp);
    if (isDiskFullError(err)) throw diskFullError(`a backup of ${dbFile}`, dir, err);
    throw err;
  }
  rotateBackups(dbFile, policy.keep ?? BACKUPS_KEPT, dir);
  return { file: final, time: now, bytes: fs.statSync(final).size };
}

/** Deletes all but the newest `keep` backups of `dbFile`, and temporary copies left by crashed processes. */
export function rotateBackups(dbFile: string, keep: number, dir = backupDirFor(dbFile)): void {
  for (const b of listBackups(dbFile, dir).slice(Math.max(0, keep))) removeQuietly(b.file);
  const stem = stemOf(dbFile);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${stem}-`) || !name.endsWith('.tmp')) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - fs.statSync(file).mtimeMs > STALE_LOCK_MS) removeQuietly(file);
    } catch {
      // gone already
    }
  }
}

/** Takes the folder's backup lock (one copier at a time across processes); null when another holds it. */
function takeLock(dir: string): (() => void) | null {
  const lock = path.join(dir, '.backup.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs < STALE_LOCK_MS) return null;
        fs.rmSync(lock, { force: true });
      } catch {
        // removed meanwhile: try again
      }
    }
  }
  return null;
}

/**
 * Makes a backup when the newest is older than `everyMs` (or there is none) and no other process
 * is making one. Never throws: a backup that cannot be made is logged, and the store goes on.
 * Skips (and logs) when the disk would keep less free space than twice the database's size.
 */
export function backupIfDue(db: Db, dbFile: string, policy: BackupPolicy = {}, now = new Date()): BackupInfo | null {
  const dir = policy.dir ?? backupDirFor(dbFile);
  try {
    const newest = listBackups(dbFile, dir)[0];
    if (newest && now.getTime() - newest.time.getTime() < (policy.everyMs ?? BACKUP_EVERY_MS)) return null;
    fs.mkdirSync(dir, { recursive: true });
    const size = fs.statSync(dbFile).size;
    const free = freeBytes(dir);
    if (free !== null && free < 2 * size + 64 * 1024 * 1024) {
      logError(
        `backup of ${dbFile}`,
        new AppError('DISK_FULL', `skipped the backup of ${dbFile}: ${dir} has ${mb(free)} free, too little for a copy of ${mb(size)}`, `free ${free} bytes, database ${size} bytes`),
      );
      return null;
    }
    const release = takeLock(dir);
    if (!release) return null;
    try {
      // another process may have made one while we waited for the lock
      const again = listBackups(dbFile, dir)[0];
      if (again && now.getTime() - again.time.getTime() < (policy.everyMs ?? BACKUP_EVERY_MS)) return null;
      return makeBackup(db, dbFile, policy, now);
    } finally {
      release();
    }
  } catch (err) {
    logError(`backup of ${dbFile}`, err instanceof AppError && err.detail === undefined ? new AppError(err.code, err.message, 'the store goes on without a new backup') : err);
    return null;
  }
}

function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0)} MB`;
}

function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * What to do about the damaged database `file`: the newest backup that passes `quick_check` (its
 * path and time) and how to put it back, or, without one, how to start afresh.
 */
export function wayOut(file: string): string {
  const backup = newestGoodBackup(file);
  const closeFirst = 'close SD4Match Workstation (the app, `sd4match serve`, running commands)';
  if (backup) {
    return (
      `The newest good backup is ${backup.file} (made ${formatTime(backup.time)}). To restore it, ${closeFirst} and run \`sd4match --db "${file}" db restore\` ` +
      `(the damaged file is kept as ${file}.damaged-<time>); or copy the backup over ${file} and delete ${file}-wal and ${file}-shm; or open a copy of the backup with --db.`
    );
  }
  return (
    `There is no backup of it in ${backupDirFor(file)}. To start afresh, ${closeFirst} and move ${file} (with ${file}-wal and ${file}-shm) elsewhere; ` +
    "the sqlite3 shell's `.recover` command may save part of it."
  );
}

/**
 * STORE_INVALID for a damaged database: the file, what is wrong (`what`), and the way out. No
 * detail: the message is the whole story (the CLI prints it as one line).
 */
export function damagedStoreError(file: string, what: string): AppError {
  return new AppError('STORE_INVALID', `The database ${file} is damaged: ${what}. ${wayOut(file)}`);
}

/**
 * Puts a backup in place of the database `dbFile` (which no process may have open): the backup is
 * checked in full first; the current file, with its -wal and -shm, is kept beside it as
 * `<file>.damaged-<time>`; the copy is written under a temporary name, synced and renamed.
 */
export function restoreBackup(dbFile: string, backupFile?: string, now = new Date()): { restored: BackupInfo; keptAs: string | null } {
  const backup = backupFile === undefined ? newestGoodBackup(dbFile) : listBackupFile(backupFile);
  if (!backup) throw new AppError('NOT_FOUND', `there is no backup of ${dbFile} that passes its check in ${backupDirFor(dbFile)}`);
  const report = checkFile(backup.file, { maxBytes: Infinity });
  if (!report.ok) throw new AppError('STORE_INVALID', `the backup ${backup.file} is damaged too: ${report.summary}; name an older one (\`sd4match db backups\` lists them)`);
  let keptAs: string | null = null;
  if (fs.existsSync(dbFile)) {
    keptAs = `${dbFile}.damaged-${stampOf(now)}`;
    fs.renameSync(dbFile, keptAs);
  }
  // the old WAL must not be replayed onto the restored file: it goes with the damaged one
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (!fs.existsSync(`${dbFile}${suffix}`)) continue;
    if (keptAs) fs.renameSync(`${dbFile}${suffix}`, `${keptAs}${suffix}`);
    else fs.rmSync(`${dbFile}${suffix}`, { force: true });
  }
  const tmp = `${dbFile}.${process.pid}.restore.tmp`;
  try {
    fs.copyFileSync(backup.file, tmp);
    fsyncFile(tmp);
    fs.renameSync(tmp, dbFile);
    fsyncDir(path.dirname(dbFile));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (isDiskFullError(err)) throw diskFullError(`the restored copy of ${backup.file}`, path.dirname(dbFile), err);
    throw err;
  }
  return { restored: backup, keptAs };
}

function listBackupFile(file: string): BackupInfo {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new AppError('NOT_FOUND', `the backup ${abs} does not exist`);
  }
  if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `the backup ${abs} is not a file`);
  return { file: abs, time: timeOf(path.basename(abs), path.basename(abs).replace(/-\d{4}-\d{2}-\d{2}T.*$/, '')) ?? st.mtime, bytes: st.size };
}

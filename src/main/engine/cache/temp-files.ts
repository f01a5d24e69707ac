/**
 * Files written under a temporary name and renamed into place (cache entries, generated images),
 * and the clean-up of temporary files that a crashed or killed process left behind.
 *
 * - `writeFileAtomic` removes its temporary file on any failure (a full disk, a failed rename), so
 *   a failed write leaves nothing; a full disk is reported as DISK_FULL naming what could not be
 *   written and the folder.
 * - `sweepStaleTempFiles` removes `*.tmp` files under a cache folder that nobody has written to for
 *   `STALE_TEMP_MS` (15 minutes). A live writer touches its file with every write, and every
 *   writer here renames its file as soon as it is complete, so a file that old is an orphan; a file
 *   whose name carries the pid of a process that is still running is spared anyway (for a day,
 *   after which the pid may well belong to another process).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { diskFullError, isDiskFullError } from '../../shared/errors.js';

/** A temporary file untouched for this long is an orphan (see the module comment). */
export const STALE_TEMP_MS = 15 * 60 * 1000;
/** How deep under the cache folder the sweep looks (tensors/<kind>/<xx>/<file> is 4). */
const SWEEP_DEPTH = 4;
/** The sweep runs at most this often per cache folder (a marker file's time says when it last ran). */
const SWEEP_EVERY_MS = 60 * 60 * 1000;
const SWEEP_MARKER = '.temp-sweep';
const PID_SPARED_MS = 24 * 3600 * 1000;

/** `<file>.<pid>.<random>.tmp`: unique per writer, and the pid tells the sweep whose it is. */
export function tempNameFor(file: string): string {
  return `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Writes `chunks` to `file` under a temporary name in the same folder and renames it into place.
 * On any failure the temporary file is removed; a full disk (ENOSPC, EDQUOT) throws DISK_FULL
 * naming `what` (default the file) and the folder.
 */
export function writeFileAtomic(file: string, chunks: Uint8Array | readonly Uint8Array[], what = file): void {
  const tmp = tempNameFor(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const chunk of chunks instanceof Uint8Array ? [chunks] : chunks) {
        let off = 0;
        while (off < chunk.byteLength) off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (isDiskFullError(err)) throw diskFullError(what, path.dirname(file), err);
    throw err;
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is someone else's
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The writer's pid in `<name>.<pid>.tmp` or `<name>.<pid>.<random>.tmp`, if the name has one. */
function pidInName(name: string): number | null {
  const m = /\.(\d+)(?:\.[0-9a-z]+)?\.tmp$/i.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Removes orphaned `*.tmp` files under `root` (at most `SWEEP_DEPTH` folders deep, symbolic links
 * not followed); see the module comment for what counts as orphaned. Runs at most once an hour per
 * folder unless `force`. Returns the files removed. Never throws: a file that cannot be removed
 * stays for the next sweep.
 */
export function sweepStaleTempFiles(root: string, options: { maxAgeMs?: number; now?: number; force?: boolean } = {}): string[] {
  const now = options.now ?? Date.now();
  const maxAge = options.maxAgeMs ?? STALE_TEMP_MS;
  const marker = path.join(root, SWEEP_MARKER);
  if (!options.force) {
    const last = fs.statSync(marker, { throwIfNoEntry: false });
    if (last && now - last.mtimeMs < SWEEP_EVERY_MS) return [];
  }
  const removed: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < SWEEP_DEPTH) walk(full, depth + 1);
        continue;
      }
      if (!e.isFile() || !e.name.endsWith('.tmp')) continue;
      try {
        const age = now - fs.statSync(full).mtimeMs;
        if (age < maxAge) continue;
        const pid = pidInName(e.name);
        if (pid !== null && age < PID_SPARED_MS && pidAlive(pid)) continue;
        fs.rmSync(full, { force: true });
        removed.push(full);
      } catch {
        // gone meanwhile, or not ours to remove
      }
    }
  };
  if (!fs.existsSync(root)) return removed;
  walk(root, 1);
  try {
    fs.writeFileSync(marker, '');
    fs.utimesSync(marker, now / 1000, now / 1000);
  } catch {
    // a read-only cache: sweep again next time
  }
  return removed;
}

/**
 * `sd4match db check|backup|backups|restore`: the database file itself. Every open of the store
 * checks it (bounded by size, see store/integrity.ts) and backs it up at most once a day into
 * `<file>-backups/` (store/backup.ts); these commands do the same on request, without the size
 * bound, and put a backup back in place of a damaged file.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { damagedStoreError, listBackups, restoreBackup } from '../store/backup.js';
import { Store } from '../store/db.js';
import { checkFile } from '../store/integrity.js';
import { backupDirFor, resolveStoreLocation } from '../store/paths.js';
import { AppError } from '../shared/errors.js';
import { formatTable } from './datasets.js';

function location(cmd: Command): { db: string; cacheDir: string } {
  const { db } = cmd.optsWithGlobals<{ db?: string }>();
  return resolveStoreLocation(db);
}

function when(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description(`the database file: check it, back it up, restore a backup (backups are kept in <database>-backups/)`);

  db.command('check')
    .description('check the whole database with SQLite quick_check, whatever its size')
    .action((_opts: unknown, cmd: Command) => {
      const loc = location(cmd);
      if (!fs.existsSync(loc.db)) throw new AppError('NOT_FOUND', `the database ${loc.db} does not exist`);
      const report = checkFile(loc.db, { maxBytes: Infinity });
      if (!report.ok) throw damagedStoreError(loc.db, `SQLite's quick_check found ${report.summary}`);
      process.stdout.write(`${loc.db}: ok (quick_check of ${mb(fs.statSync(loc.db).size)} in ${(report.ms / 1000).toFixed(1)}s)\n`);
    });

  db.command('backup')
    .description('make a backup now (checked, then kept with the others; the oldest beyond 5 are removed)')
    .action((_opts: unknown, cmd: Command) => {
      const loc = location(cmd);
      const store = Store.open(loc.db, { cacheDir: loc.cacheDir, backups: false });
      try {
        const b = store.backup();
        process.stdout.write(`${b.file} (${mb(b.bytes)})\n`);
      } finally {
        store.close();
      }
    });

  db.command('backups')
    .description('list the backups, newest first, each checked with quick_check')
    .action((_opts: unknown, cmd: Command) => {
      const loc = location(cmd);
      const list = listBackups(loc.db);
      if (list.length === 0) {
        process.stdout.write(`no backups of ${loc.db} in ${backupDirFor(loc.db)}\n`);
        return;
      }
      const rows = list.map((b) => [when(b.time), mb(b.bytes), checkFile(b.file).ok ? 'ok' : 'damaged', b.file]);
      process.stdout.write(`${formatTable(['made', 'size', 'check', 'file'], rows)}\n`);
    });

  db.command('restore [backup]')
    .description('put a backup (default: the newest good one) in place of the database; close the app and servers first. The current file is kept as <database>.damaged-<time>')
    .action((backup: string | undefined, _opts: unknown, cmd: Command) => {
      const loc = location(cmd);
      const r = restoreBackup(loc.db, backup);
      // opening it checks it and brings its schema up to date, as the app would
      Store.open(loc.db, { cacheDir: loc.cacheDir, backups: false }).close();
      process.stdout.write(`restored ${loc.db} from ${r.restored.file} (made ${when(r.restored.time)})\n`);
      if (r.keptAs) process.stdout.write(`the previous file is kept as ${r.keptAs}\n`);
    });
}

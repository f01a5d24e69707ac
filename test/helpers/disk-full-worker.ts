/**
 * Writes into a folder on a file system that is too small (the store-integrity test mounts a tiny
 * tmpfs there in a user namespace), so the writes meet a real ENOSPC (run with `node --import tsx`):
 *
 *   disk-full-worker.ts DIR
 *
 * 1. a feature tensor larger than the file system, through TensorCache.put;
 * 2. rows into the store at DIR/w.db until SQLite says SQLITE_FULL.
 *
 * Prints one JSON line: each failure as a client would be told it (serializeError: code and
 * message) and the temporary files left in DIR afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import { Store } from '../../src/main/store/db.js';
import { serializeError } from '../../src/main/shared/errors.js';

const dir = process.argv[2]!;

function leftovers(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.tmp')) out.push(path.relative(root, full));
    }
  };
  walk(root);
  return out;
}

const result: Record<string, unknown> = {};

const cache = new TensorCache(path.join(dir, 'tensors'));
try {
  cache.put('vae', 'ab'.repeat(16), { dtype: 'float32', dims: [1, 4, 256, 256], data: new Float32Array(4 * 256 * 256).fill(1) });
  result.tensor = { code: 'none' };
} catch (err) {
  result.tensor = serializeError(err);
}
result.tensorLeftovers = leftovers(dir);

const store = Store.open(path.join(dir, 'w.db'), { backups: false });
try {
  // stand-in for any table growing (imports, metrics): blobs until the disk is full
  store.db.exec('CREATE TABLE filler (b BLOB)');
  const insert = store.db.prepare('INSERT INTO filler (b) VALUES (zeroblob(65536))');
  for (let i = 0; i < 10_000; i++) insert.run();
  result.sqlite = { code: 'none' };
} catch (err) {
  result.sqlite = serializeError(err);
} finally {
  store.close();
}

process.stdout.write(`${JSON.stringify(result)}\n`);

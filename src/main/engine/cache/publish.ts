/**
 * Publishing a folder of cache entries (compiled graphs, built step graphs) that several processes
 * may build at once: the API process estimating a run's memory and the job process running it, two
 * jobs on the same model. Each builds into a temporary folder of its own and renames it into place.
 * A complete folder that is already there is never replaced, so a process that is opening its
 * files (an ONNX model, then its external data) never sees them swapped or removed under it.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Moves the fully written folder `tmp` to `dir`. When another process published a complete `dir`
 * first (`isComplete`), ours is discarded and theirs kept; an incomplete or outdated `dir` is moved
 * aside and replaced. Returns whose folder is in place.
 */
export function publishDir(tmp: string, dir: string, isComplete: (dir: string) => boolean): 'ours' | 'theirs' {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      // atomic; fails when `dir` exists and is not empty
      fs.renameSync(tmp, dir);
      return 'ours';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw e;
      if (isComplete(dir)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        return 'theirs';
      }
      if (attempt > 0) throw e;
      // outdated or partial (an older version, a crash before this scheme): move it aside, then retry
      const stale = `${dir}.stale-${process.pid}-${Date.now()}`;
      try {
        fs.renameSync(dir, stale);
      } catch {
        // another process moved or replaced it first: the retry sees what is there now
      }
      fs.rmSync(stale, { recursive: true, force: true });
    }
  }
}

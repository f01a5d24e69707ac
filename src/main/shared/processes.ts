/**
 * Whether a process recorded by pid (a run's job process, the process that queued it) still lives,
 * across processes and restarts: a pid the system gave to a newer process does not count.
 */
import fs from 'node:fs';

/** Whether `pid` is a live process that started no later than `since` (ms since the epoch). */
export function processAlive(pid: number, since?: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = since === undefined ? null : processStartMs(pid);
  // a process that started after the run's last sign of life is another one under a reused pid
  return started === null || started <= since! + 2000;
}

/** When a process started (Linux: /proc), or null where that cannot be read. */
function processStartMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at ') '; starttime is field 22
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return null;
    return btime * 1000 + (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

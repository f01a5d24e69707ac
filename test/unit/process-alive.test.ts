/**
 * A run's process is known by its pid across restarts: a pid that no process has is gone, and so
 * is one the system gave to a process started after the run's last sign of life (a reused pid).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processAlive } from '../../src/main/shared/processes.js';

describe('processAlive', () => {
  it('is true for a live process that started before the given time', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(process.pid, Date.now())).toBe(true);
  });

  it('is false for a pid no process has', () => {
    expect(processAlive(2 ** 22 + 777)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('is false for a process started after the run last showed life (a reused pid)', async () => {
    const lastSignOfLife = Date.now() - 60_000;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(processAlive(child.pid!)).toBe(true);
      expect(processAlive(child.pid!, lastSignOfLife)).toBe(false);
      expect(processAlive(child.pid!, Date.now())).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

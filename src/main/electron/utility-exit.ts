/**
 * How a utility process ended, in the terms job processes report (exit code or signal). Electron's
 * `exit` event carries only a number (waitpid's status: the exit code, or on POSIX the number of
 * the signal that killed it), so the reason comes from `app`'s 'child-process-gone' details.
 * Pure: no 'electron' import, so it can be tested without the Electron binary.
 */
import os from 'node:os';
import type { JobProcessExit } from '../engine/jobs/job-process.js';

/** The parts of Electron's `Details` ('child-process-gone') this needs. */
export interface GoneDetails {
  reason: string;
  exitCode: number;
}

function signalName(n: number, platform: NodeJS.Platform): NodeJS.Signals | null {
  if (platform === 'win32') return null;
  const hit = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return hit ? (hit[0] as NodeJS.Signals) : null;
}

/**
 * `code` is the exit event's number; `details` what 'child-process-gone' said, if it said anything
 * (it is silent about clean exits).
 */
export function utilityExit(code: number, details: GoneDetails | undefined, platform: NodeJS.Platform = process.platform): JobProcessExit {
  if (!details) return { code, signal: null };
  switch (details.reason) {
    case 'oom':
      return { code: null, signal: signalName(details.exitCode, platform), oom: true };
    case 'killed':
      return { code: null, signal: signalName(details.exitCode, platform) ?? 'SIGKILL' };
    case 'crashed': {
      const signal = signalName(details.exitCode, platform);
      return signal ? { code: null, signal } : { code: details.exitCode, signal: null };
    }
    case 'launch-failed':
      return { code: null, signal: null, error: `the utility process could not be launched (code ${details.exitCode})` };
    default:
      return { code: details.exitCode, signal: null };
  }
}

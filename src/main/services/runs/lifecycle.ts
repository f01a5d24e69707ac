/**
 * A run's life, owned in one place. A run is active while it is `queued` (created, its job not yet
 * training) or `running`; every way out of its job ends it in a state with its reason:
 * completed, failed (why), cancelled (by the user, or when the app closed, saying so). Which process holds an
 * active run is its `pid` (the process that queued it, then the job process that runs it), so a
 * process that starts on the store (the app, `serve`, any CLI command, a job) finds the runs whose
 * process is gone and fails them with the reason and, where a checkpoint exists, the step a resume
 * continues from.
 *
 * Kept free of engine imports: every process that opens the store calls `recoverRunsOnOpen`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { processAlive } from '../../shared/processes.js';
import type { Store } from '../../store/db.js';
import { repos, type Repos } from '../../store/repositories/index.js';
import type { RunRecord, RunStatus } from '../../store/repositories/runs.js';

/**
 * What a run's life reads and writes: the store (whose file places the run folders) and its
 * repositories. The application's services have both; so does a store just opened.
 */
export interface RunStore {
  store: Store;
  repos: Repos;
}

/** Statuses of a run that a process is (or should be) working on. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['queued', 'running'];

export function isActive(status: RunStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

/** Where a run keeps its checkpoint and prompt file. */
export function runDirOf(svc: Pick<RunStore, 'store'>, runId: number): string {
  return path.join(path.dirname(svc.store.file), 'runs', String(runId));
}

/** The step of a run's checkpoint file (what a resume continues from), or null if it has none. */
export function checkpointStep(svc: RunStore, runId: number): number | null {
  const file = path.join(runDirOf(svc, runId), 'checkpoint.safetensors');
  if (!fs.existsSync(file)) return null;
  let fd: number | null = null;
  try {
    // only the header: a checkpoint is written whole (temporary file, then rename)
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) < 8) return null;
    const n = Number(head.readBigUInt64LE(0));
    if (n <= 0 || n > 100_000_000) return null;
    const json = Buffer.alloc(n);
    if (fs.readSync(fd, json, 0, n, 8) < n) return null;
    const step = Number((JSON.parse(json.toString('utf8')) as { __metadata__?: { step?: string } }).__metadata__?.step);
    return Number.isFinite(step) ? step : null;
  } catch {
    return svc.repos.runs.latestCheckpoint(runId)?.step ?? null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** What becomes of a run that stopped without finishing: resumable from its checkpoint, or not. */
export function resumeOutcome(svc: RunStore, r: RunRecord, resumeHint?: (runId: number) => string): string {
  if (r.kind === 'eval') return 'evaluate again to get its results';
  const step = checkpointStep(svc, r.id);
  if (step === null) return 'no checkpoint was written yet, so start it again';
  return `resume it from its checkpoint at step ${step}${resumeHint ? ` (${resumeHint(r.id)})` : ''}`;
}

/** Whether another process is still working on an active run (false for this process's own runs). */
export function heldElsewhere(r: RunRecord): boolean {
  return isActive(r.status) && r.pid !== null && r.pid !== process.pid && processAlive(r.pid, r.heartbeatAt ?? r.updatedAt);
}

/**
 * Fails the active runs whose process is gone (or whose pid another process took), each with the
 * reason and what to do next; returns their ids. Safe to call from any process at any time: a run
 * held by a live process is left alone, and so are this process's own runs.
 */
export function recoverRuns(svc: RunStore, options: { isAlive?: (pid: number, since: number) => boolean; staleMs?: number } = {}): number[] {
  /** The step it reached: the stored one, or its checkpoint's when that was written after the last store of progress. */
  const reached = (r: RunRecord) => Math.max(r.step, (r.kind === 'train' ? checkpointStep(svc, r.id) : null) ?? 0);
  const ids = svc.repos.runs.recoverInterrupted({
    isAlive: options.isAlive,
    staleMs: options.staleMs,
    reason: (r) =>
      r.status === 'queued'
        ? 'it was queued when the workstation process that started it stopped (closed or killed) before training began; start it again'
        : `the process running it stopped unexpectedly (the workstation or its server was closed or killed) at step ${reached(r)}; ${resumeOutcome(svc, r)}`,
  });
  for (const id of ids) {
    const r = svc.repos.runs.get(id);
    if (r && reached(r) > r.step) svc.repos.runs.progress(id, reached(r));
  }
  return ids;
}

/**
 * `recoverRuns` for a store just opened (by `openServices`, or a CLI command on the store alone):
 * a store another writer holds for longer than the busy timeout is left for the next start.
 */
export function recoverRunsOnOpen(store: Store): void {
  try {
    store.writeSync((db) => recoverRuns({ store, repos: repos(db) }));
  } catch (e) {
    if (!/^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: string }).code))) throw e;
  }
}

/**
 * Ends an active run (queued or running) as `status` with `reason`; a run that already ended is
 * left as it is (its own process recorded how). Returns whether it changed the run.
 */
export function endActiveRun(svc: Pick<RunStore, 'repos'>, runId: number, status: 'failed' | 'cancelled' | 'paused', reason: string | null): boolean {
  const r = svc.repos.runs.get(runId);
  if (!r || !isActive(r.status)) return false;
  if (status === 'failed') svc.repos.runs.fail(runId, reason ?? 'unknown failure');
  else if (status === 'cancelled') svc.repos.runs.cancel(runId, reason);
  else svc.repos.runs.pause(runId, reason);
  return true;
}

/** How often a training job tells the store it is alive (its last sign of life, should it die). */
export const HEARTBEAT_MS = 30_000;

/** Which job of this process runs which run, per app (the API's context). */
const jobOfRun = new WeakMap<object, Map<number, string>>();

export function runJobs(owner: object): Map<number, string> {
  let m = jobOfRun.get(owner);
  if (!m) jobOfRun.set(owner, (m = new Map()));
  return m;
}

/**
 * The runs an app's jobs were running when it closed: its jobs were cancelled (training
 * checkpoints first), and each such run says so, with where a resume continues.
 */
export function noteRunsStoppedByClose(svc: RunStore, runIds: readonly number[]): void {
  for (const id of runIds) {
    const r = svc.repos.runs.get(id);
    if (r?.status === 'cancelled' && r.failureReason === null) svc.repos.runs.setReason(id, `stopped when the workstation closed at step ${r.step}; ${resumeOutcome(svc, r)}`);
  }
}

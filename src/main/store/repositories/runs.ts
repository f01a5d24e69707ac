/**
 * Training and evaluation runs with their metrics and checkpoints. A run moves
 * queued -> running -> completed | failed (with a reason) | cancelled | paused; a paused, failed
 * or cancelled run can be resumed from its latest checkpoint, and a run left 'running' by a
 * process that died is found by `recoverInterrupted()` and marked failed with the reason.
 */
import { AppError } from '../../shared/errors.js';
import { processAlive } from '../../shared/processes.js';
import { type Db, now, prepareCached } from '../db.js';

export type RunKind = 'train' | 'eval';
export type RunStatus = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface RunRecord {
  id: number;
  kind: RunKind;
  name: string;
  status: RunStatus;
  config: Record<string, unknown>;
  modelId: number | null;
  datasetId: number | null;
  promptId: number | null;
  provider: string | null;
  step: number;
  totalSteps: number | null;
  failureReason: string | null;
  pid: number | null;
  createdAt: number;
  startedAt: number | null;
  updatedAt: number;
  heartbeatAt: number | null;
  finishedAt: number | null;
  /** Milliseconds spent running, over every start and stop (not counting the time running now). */
  activeMs: number;
  /** When the run last started or resumed, while it runs. */
  resumedAt: number | null;
}

export interface Checkpoint {
  id: number;
  runId: number;
  step: number;
  path: string;
  bytes: number;
  sha256: string;
  metricName: string | null;
  metricValue: number | null;
  isBest: boolean;
  createdAt: number;
}

interface RunRow {
  id: number;
  kind: RunKind;
  name: string;
  status: RunStatus;
  config: string;
  model_id: number | null;
  dataset_id: number | null;
  prompt_id: number | null;
  provider: string | null;
  step: number;
  total_steps: number | null;
  failure_reason: string | null;
  pid: number | null;
  created_at: number;
  started_at: number | null;
  updated_at: number;
  heartbeat_at: number | null;
  finished_at: number | null;
  active_ms: number;
  resumed_at: number | null;
}

interface CheckpointRow {
  id: number;
  run_id: number;
  step: number;
  path: string;
  bytes: number;
  sha256: string;
  metric_name: string | null;
  metric_value: number | null;
  is_best: number;
  created_at: number;
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    status: r.status,
    config: JSON.parse(r.config) as Record<string, unknown>,
    modelId: r.model_id,
    datasetId: r.dataset_id,
    promptId: r.prompt_id,
    provider: r.provider,
    step: r.step,
    totalSteps: r.total_steps,
    failureReason: r.failure_reason,
    pid: r.pid,
    createdAt: r.created_at,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    heartbeatAt: r.heartbeat_at,
    finishedAt: r.finished_at,
    activeMs: r.active_ms,
    resumedAt: r.resumed_at,
  };
}

function toCheckpoint(r: CheckpointRow): Checkpoint {
  return {
    id: r.id,
    runId: r.run_id,
    step: r.step,
    path: r.path,
    bytes: r.bytes,
    sha256: r.sha256,
    metricName: r.metric_name,
    metricValue: r.metric_value,
    isBest: r.is_best === 1,
    createdAt: r.created_at,
  };
}

const RESUMABLE: readonly RunStatus[] = ['paused', 'failed', 'cancelled'];

export class RunsRepo {
  constructor(private readonly db: Db) {}

  /** A queued run, held by this process (its `pid`) until a job process starts it. */
  create(r: { kind: RunKind; name?: string; config: Record<string, unknown>; modelId?: number | null; datasetId?: number | null; promptId?: number | null; totalSteps?: number | null }): RunRecord {
    const t = now();
    const row = prepareCached(
      this.db,
      `INSERT INTO runs (kind, name, status, config, model_id, dataset_id, prompt_id, total_steps, pid, created_at, updated_at)
       VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(r.kind, r.name ?? '', JSON.stringify(r.config), r.modelId ?? null, r.datasetId ?? null, r.promptId ?? null, r.totalSteps ?? null, process.pid, t, t) as RunRow;
    return toRun(row);
  }

  get(id: number): RunRecord | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return r && toRun(r);
  }

  private require(id: number): RunRecord {
    const r = this.get(id);
    if (!r) throw new AppError('NOT_FOUND', `no run with id ${id}`);
    return r;
  }

  list(filter: { status?: RunStatus; kind?: RunKind } = {}): RunRecord[] {
    const rows = prepareCached(this.db, 'SELECT * FROM runs WHERE (@status IS NULL OR status = @status) AND (@kind IS NULL OR kind = @kind) ORDER BY id DESC').all({
      status: filter.status ?? null,
      kind: filter.kind ?? null,
    }) as RunRow[];
    return rows.map(toRun);
  }

  /** queued | paused | failed | cancelled -> running, recording the provider and the process. */
  start(id: number, s: { provider: string; pid?: number }): RunRecord {
    const run = this.require(id);
    if (run.status !== 'queued' && !RESUMABLE.includes(run.status)) {
      throw new AppError('INVALID_ARGUMENT', `run ${id} is ${run.status}; only queued, paused, failed or cancelled runs can start`);
    }
    const t = now();
    prepareCached(
      this.db,
      `UPDATE runs SET status = 'running', provider = ?, pid = ?, failure_reason = NULL, finished_at = NULL,
         started_at = coalesce(started_at, ?), resumed_at = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?`,
    ).run(s.provider, s.pid ?? process.pid, t, t, t, t, id);
    return this.require(id);
  }

  /** The execution provider the run's sessions use. */
  setProvider(id: number, provider: string): void {
    prepareCached(this.db, 'UPDATE runs SET provider = ?, updated_at = ? WHERE id = ?').run(provider, now(), id);
  }

  /** Records the step reached (also a heartbeat). */
  progress(id: number, step: number): void {
    const t = now();
    prepareCached(this.db, 'UPDATE runs SET step = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?').run(step, t, t, id);
  }

  /** Marks the run completed; a training run also records the prompt it produced. */
  complete(id: number, promptId?: number): void {
    this.finish(id, 'completed', null);
    if (promptId !== undefined) prepareCached(this.db, 'UPDATE runs SET prompt_id = ? WHERE id = ?').run(promptId, id);
  }

  fail(id: number, reason: string): void {
    this.finish(id, 'failed', reason || 'unknown failure');
  }

  /** Stopped on request; `reason` says by whom when it was not the user's Cancel. */
  cancel(id: number, reason: string | null = null): void {
    this.finish(id, 'cancelled', reason);
  }

  /** Stopped on purpose (app quit) after a checkpoint; resumable. */
  pause(id: number, reason: string | null = null): void {
    this.finish(id, 'paused', reason);
  }

  /** Says why a run that ended stopped (a cancel by something other than the user). */
  setReason(id: number, reason: string): void {
    prepareCached(this.db, 'UPDATE runs SET failure_reason = ?, updated_at = ? WHERE id = ?').run(reason, now(), id);
  }

  /** A sign of life from the process running the run (between steps that take long). */
  heartbeat(id: number): void {
    const t = now();
    prepareCached(this.db, "UPDATE runs SET heartbeat_at = ?, updated_at = ? WHERE id = ? AND status = 'running'").run(t, t, id);
  }

  /** Ends a stretch of running: the time since it (re)started, up to `activeUntil`, adds to its active time. */
  private finish(id: number, status: RunStatus, reason: string | null, activeUntil?: number): void {
    const t = now();
    const res = prepareCached(
      this.db,
      `UPDATE runs SET status = ?, failure_reason = ?, finished_at = ?, updated_at = ?,
         active_ms = active_ms + CASE WHEN status = 'running' AND resumed_at IS NOT NULL THEN max(0, ? - resumed_at) ELSE 0 END,
         resumed_at = NULL
       WHERE id = ?`,
    ).run(status, reason, t, t, activeUntil ?? t, id);
    if (res.changes === 0) throw new AppError('NOT_FOUND', `no run with id ${id}`);
  }

  /**
   * Active runs whose process is gone are marked failed with `reason(run)`; returns their ids. A
   * running run's process is the job process that runs it; a queued run's is the process that
   * queued it (a queued run without one predates that record and is failed too). `isAlive(pid,
   * since)` says whether that process still lives: the default also knows, on Linux, a pid reused
   * by a process started after `since` (the run's last sign of life). Elsewhere a running run
   * whose heartbeat is older than `staleMs` (default a day) counts as gone. Runs of this process
   * are left to it. Call on start-up.
   */
  recoverInterrupted(options: { staleMs?: number; isAlive?: (pid: number, since: number) => boolean; reason?: (run: RunRecord) => string } = {}): number[] {
    const isAlive = options.isAlive ?? processAlive;
    const staleMs = options.staleMs ?? 24 * 3600_000;
    const reason = options.reason ?? ((r: RunRecord) => `the process running it stopped unexpectedly at step ${r.step}; resume it from its latest checkpoint`);
    const t = now();
    const out: number[] = [];
    for (const r of [...this.list({ status: 'running' }), ...this.list({ status: 'queued' })]) {
      if (r.pid === process.pid) continue;
      const since = r.heartbeatAt ?? r.updatedAt;
      const dead = r.pid === null || !isAlive(r.pid, since);
      const stale = r.status === 'running' && t - since > staleMs;
      if (dead || stale) {
        // it ran until its last sign of life, not until now
        this.finish(r.id, 'failed', reason(r), r.heartbeatAt ?? undefined);
        out.push(r.id);
      }
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * The runs a job process was running when it died are marked failed with `reason(run)`: those
   * 'running' under its pid, and those of `alsoIds` still 'queued' (created for it, never started).
   * Returns them as they were before. The supervising process calls this: the dead one cannot.
   */
  failRunsOfProcess(pid: number | undefined, reason: (run: RunRecord) => string, alsoIds: readonly number[] = []): RunRecord[] {
    const out = pid === undefined ? [] : this.list({ status: 'running' }).filter((r) => r.pid === pid);
    for (const id of alsoIds) {
      const r = this.get(id);
      if (r && r.status === 'queued' && !out.some((x) => x.id === id)) out.push(r);
    }
    out.sort((a, b) => a.id - b.id);
    for (const r of out) this.finish(r.id, 'failed', reason(r));
    return out;
  }

  delete(id: number): void {
    prepareCached(this.db, 'DELETE FROM runs WHERE id = ?').run(id);
  }

  // ------------------------------------------------------------------------------------------
  // Metrics
  // ------------------------------------------------------------------------------------------

  /** Records metric values at a step (re-recording a step overwrites it, e.g. after a resume). */
  recordMetrics(runId: number, step: number, values: Record<string, number>): void {
    const ins = prepareCached(this.db, 'INSERT OR REPLACE INTO metrics (run_id, name, step, value, recorded_at) VALUES (?, ?, ?, ?, ?)');
    const t = now();
    for (const [name, value] of Object.entries(values)) ins.run(runId, name, step, value, t);
  }

  /** One metric's values in step order (optionally after a step, for live charts). */
  metricSeries(runId: number, name: string, afterStep = -1): { step: number; value: number }[] {
    return prepareCached(this.db, 'SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step').all(runId, name, afterStep) as {
      step: number;
      value: number;
    }[];
  }

  metricNames(runId: number): string[] {
    return (prepareCached(this.db, 'SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name').all(runId) as { name: string }[]).map((r) => r.name);
  }

  /** Drops metrics recorded after `step` (resuming from a checkpoint at that step). */
  truncateMetricsAfter(runId: number, step: number): void {
    prepareCached(this.db, 'DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step);
  }

  // ------------------------------------------------------------------------------------------
  // Checkpoints
  // ------------------------------------------------------------------------------------------

  addCheckpoint(c: { runId: number; step: number; path: string; bytes: number; sha256: string; metricName?: string; metricValue?: number; isBest?: boolean }): Checkpoint {
    if (c.isBest) prepareCached(this.db, 'UPDATE checkpoints SET is_best = 0 WHERE run_id = ?').run(c.runId);
    const r = prepareCached(
      this.db,
      `INSERT INTO checkpoints (run_id, step, path, bytes, sha256, metric_name, metric_value, is_best, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, step) DO UPDATE SET path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256,
         metric_name = excluded.metric_name, metric_value = excluded.metric_value, is_best = excluded.is_best, created_at = excluded.created_at
       RETURNING *`,
    ).get(c.runId, c.step, c.path, c.bytes, c.sha256, c.metricName ?? null, c.metricValue ?? null, c.isBest ? 1 : 0, now()) as CheckpointRow;
    return toCheckpoint(r);
  }

  checkpoints(runId: number): Checkpoint[] {
    return (prepareCached(this.db, 'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step').all(runId) as CheckpointRow[]).map(toCheckpoint);
  }

  /** Where a resume starts: the checkpoint with the highest step. */
  latestCheckpoint(runId: number): Checkpoint | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1').get(runId) as CheckpointRow | undefined;
    return r && toCheckpoint(r);
  }

  bestCheckpoint(runId: number): Checkpoint | undefined {
    const r = prepareCached(this.db, 'SELECT * FROM checkpoints WHERE run_id = ? AND is_best = 1').get(runId) as CheckpointRow | undefined;
    return r && toCheckpoint(r);
  }
}

export interface EvalPairResult {
  pairId: number;
  method: string;
  error: number;
  pck: number[];
}

/** Per-pair results of evaluation runs. */
export class EvalResultsRepo {
  constructor(private readonly db: Db) {}

  record(runId: number, results: EvalPairResult[]): void {
    const stmt = prepareCached(this.db, 'INSERT OR REPLACE INTO eval_pairs (run_id, pair_id, method, error, pck) VALUES (?, ?, ?, ?, ?)');
    for (const r of results) stmt.run(runId, r.pairId, r.method, r.error, JSON.stringify(r.pck));
  }

  /** A run's per-pair results for one method, worst first. */
  list(runId: number, method: string, limit = -1): EvalPairResult[] {
    const rows = prepareCached(this.db, 'SELECT pair_id, method, error, pck FROM eval_pairs WHERE run_id = ? AND method = ? ORDER BY error DESC LIMIT ?').all(runId, method, limit) as {
      pair_id: number;
      method: string;
      error: number;
      pck: string;
    }[];
    return rows.map((r) => ({ pairId: r.pair_id, method: r.method, error: r.error, pck: JSON.parse(r.pck) as number[] }));
  }
}

/**
 * Runs (training and evaluation) as the store records them: listed with what a window shows of
 * each (status, best PCK, time spent, the job running it here, whether it resumes), their metrics,
 * and the two ways a user ends one: cancel and delete. Starting runs is training's and
 * evaluation's (services/training/, services/evaluation/).
 */
import fs from 'node:fs';
import { AppError } from '../../shared/errors.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import type { RunDetails, RunSummary } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';
import type { Services } from '../app/context.js';
import { endActiveRun, heldElsewhere, isActive, recoverRuns, runDirOf, runJobs } from './lifecycle.js';

/** Which runs to list (default: both kinds). */
export interface RunListQuery {
  kind?: 'train' | 'eval';
}

/** A run's metric series: those named (default: all), the points after a step (-1: all). */
export interface RunMetricsQuery {
  id: number;
  names?: string[];
  afterStep: number;
}

const RESUMABLE = new Set(['paused', 'cancelled', 'failed']);

function bestPck(svc: Services, r: RunRecord): number | null {
  if (r.kind === 'train') {
    const s = svc.repos.runs.metricSeries(r.id, 'val_pck/0.1');
    return s.length ? Math.max(...s.map((x) => x.value)) : null;
  }
  const s = svc.repos.runs.metricSeries(r.id, 'pck/kernelsoftmax/0.1');
  return s.length ? s[s.length - 1].value : null;
}

export function runSummary(ctx: AppContext, r: RunRecord): RunSummary {
  const svc = ctx.services();
  const ds = r.datasetId !== null ? svc.repos.datasets.find(r.datasetId) : undefined;
  const jobId = runJobs(ctx).get(r.id) ?? null;
  const job = jobId ? ctx.jobs.get(jobId) : undefined;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    status: r.status,
    datasetId: r.datasetId,
    dataset: ds?.name ?? null,
    modelId: r.modelId,
    promptId: r.promptId,
    provider: r.provider,
    step: r.step,
    totalSteps: r.totalSteps,
    bestPck: bestPck(svc, r),
    config: r.config,
    failureReason: r.failureReason,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    seconds: r.startedAt !== null ? (r.activeMs + (r.status === 'running' && r.resumedAt !== null ? Math.max(0, Date.now() - r.resumedAt) : 0)) / 1000 : null,
    pastSeconds: r.activeMs / 1000,
    resumedAt: r.status === 'running' ? r.resumedAt : null,
    jobId: job && job.state === 'running' ? jobId : null,
    resumable: r.kind === 'train' && RESUMABLE.has(r.status) && fs.existsSync(`${runDirOf(svc, r.id)}/checkpoint.safetensors`),
  };
}

export function requireRun(ctx: AppContext, id: number): RunRecord {
  const r = ctx.services().repos.runs.get(id);
  if (!r) throw new AppError('NOT_FOUND', `no run with id ${id}`);
  return r;
}

export async function listRuns(ctx: AppContext, { kind }: RunListQuery) {
  const svc = ctx.services();
  return svc.repos.runs
    .list(kind ? { kind } : {})
    .sort((a, b) => b.id - a.id)
    .map((r) => runSummary(ctx, r));
}

export async function runDetails(ctx: AppContext, id: number): Promise<RunDetails> {
  const r = requireRun(ctx, id);
  const svc = ctx.services();
  return { ...runSummary(ctx, r), checkpoints: svc.repos.runs.checkpoints(id).map((c) => ({ step: c.step, createdAt: c.createdAt })), metricNames: svc.repos.runs.metricNames(id) };
}

export async function runMetrics(ctx: AppContext, { id, names, afterStep }: RunMetricsQuery) {
  requireRun(ctx, id);
  const svc = ctx.services();
  const wanted = names ?? svc.repos.runs.metricNames(id);
  return Object.fromEntries(wanted.map((n) => [n, svc.repos.runs.metricSeries(id, n, afterStep)]));
}

/**
 * Cancels an active run: its job here is cancelled (a training run checkpoints first). A run whose
 * process is gone is failed with the reason (it is not running anywhere); one that another process
 * runs (a `train` in a terminal, another server) is refused with where it runs.
 */
export async function cancelRun(ctx: AppContext, id: number) {
  const svc = ctx.services();
  requireRun(ctx, id);
  const jobId = runJobs(ctx).get(id);
  if (jobId && ctx.jobs.cancel(jobId)) return { cancelled: true };
  await svc.store.write(() => recoverRuns(svc));
  const r = requireRun(ctx, id);
  if (heldElsewhere(r)) throw new AppError('INVALID_ARGUMENT', `run ${id} is ${r.status} in another process (pid ${r.pid}: a command line \`train\` or another workstation); stop it there`);
  if (isActive(r.status)) {
    await svc.store.write(() => endActiveRun(svc, id, 'cancelled', null));
    ctx.events.emit('run:updated', runSummary(ctx, requireRun(ctx, id)));
    return { cancelled: true };
  }
  return { cancelled: false };
}

/** Deletes a run with its metrics, checkpoints and files; an active run is cancelled first. */
export async function deleteRun(ctx: AppContext, id: number) {
  const svc = ctx.services();
  let r = requireRun(ctx, id);
  if (isActive(r.status) || runJobs(ctx).has(id)) {
    await cancelRun(ctx, id);
    // its job checkpoints and records its end; wait for that before removing its folder
    for (let waited = 0; runJobs(ctx).has(id) && waited < 60_000; waited += 50) await new Promise((res) => setTimeout(res, 50));
    r = requireRun(ctx, id);
    if (runJobs(ctx).has(id) || isActive(r.status)) throw new AppError('INVALID_ARGUMENT', `run ${id} is still stopping; delete it again in a moment`);
  }
  await svc.store.write(() => svc.repos.runs.delete(id));
  fs.rmSync(runDirOf(svc, id), { recursive: true, force: true });
  return { deleted: true };
}

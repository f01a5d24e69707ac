/**
 * No waiting for the next image in Annotate: while an image is open, the features of the next
 * images (at most PREFETCH_AHEAD, in the order the annotator will open them) are computed in a
 * background process, so that Suggest on one of them has only matching left to do.
 *
 * Two warm `suggest-host` processes (host-task.ts) work for Annotate:
 *  - the prefetch host computes features at the lowest CPU priority, one image at a time, into the
 *    tensor cache; it is killed at once when the user starts any job (an import, training, an
 *    evaluation, a Suggest that needs a feature pass) and started again when the user's jobs have
 *    ended; another category cancels what it was doing;
 *  - the serve host answers a one-image Suggest on a prefetched image (or on the image being
 *    prefetched, once that is done: the work is reused, not doubled) with the model and the
 *    features it holds, outside any job process: matching only. Its sessions stay open while
 *    Annotate has a category open, whatever the prefetch host does.
 * A Suggest of anything else runs as before, in a job process of its own (which preempts the prefetch).
 *
 * Bounds: PREFETCH_AHEAD images after the open one; each host keeps at most HOST_MEMORY_BYTES of
 * feature maps in memory (host-task.ts), and once a feature map's size is known, fewer images are
 * asked for when the exemplars' maps and theirs would not fit that budget.
 */
import type { JobInfo } from '../../engine/jobs/progress.js';
import { type PrefetchStatus, PREFETCH_AHEAD } from '../../contract/suggest.js';
import { AppError, CancelledError } from '../../shared/errors.js';
import { type AppContext, jobRunner } from '../app/app.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { engineKey, HOST_MEMORY_BYTES, type HostAnswer } from './host-task.js';
import { planSuggestion, storeSuggestion, type SuggestPlan } from './plan.js';
import { planInput, startSuggestPlan, suggestInProcess, suggestTitle, type SuggestRequest, type SuggestSettings } from './suggest.js';

/** What a window asks to prefetch: its suggestion settings, the open image and the next ones. */
export interface PrefetchRequest extends SuggestSettings {
  openImageId?: number;
  imageIds: number[];
}

interface Want {
  categoryId: number;
  /** The image open in the window (prefetched mirrored too: it is about to become an exemplar). */
  openImageId: number | null;
  plan: SuggestPlan;
  /** Features are ready for an image under this key (model, prompt, feature settings, category). */
  key: string;
}

/** The feature space an image's prefetched features belong to (category included: text prompts depend on it). */
function readyKey(plan: SuggestPlan): string {
  return `${engineKey(plan)}|${plan.categoryId}`;
}

const OFF: PrefetchStatus = { categoryId: null, state: 'off', ready: 0, total: 0, imageId: null, note: null };

/** The prefetcher of one application (see prefetcherOf). */
export class Prefetcher {
  private want: Want | null = null;
  /** Image id -> the ready key its features were computed under (they stay in the disk cache). */
  private readonly ready = new Map<number, string>();
  /** Images whose prefetch failed (not retried for this key). */
  private readonly failed = new Map<number, string>();
  private inflight: { imageId: number; key: string; done: Promise<void> } | null = null;
  /** Running jobs the user started (prefetching waits for them all to end). */
  private readonly userJobs = new Map<string, string>();
  /** Jobs this prefetcher runs itself (one-image suggestions served warm): they do not preempt. */
  private readonly own = new Set<string>();
  private claiming = 0;
  /** Requests received (the latest one decides what is prefetched). */
  private requests = 0;
  private pumping = false;
  private featureBytes = 0;
  /** The engine the serve host was asked to open. */
  private serveKey: string | null = null;
  private last: PrefetchStatus = OFF;
  /** Feature passes: prefetched images, and user suggestions served warm that needed none. */
  readonly counters = { prefetched: 0, preempted: 0, servedWarm: 0 };

  constructor(private readonly ctx: AppContext) {
    for (const j of ctx.jobs.list()) if (j.state === 'running') this.userJobs.set(j.id, j.title);
    ctx.events.on('job:updated', (j) => this.onJob(j));
  }

  /** What the status bar shows now. */
  get status(): PrefetchStatus {
    return this.last;
  }

  /** How many images after the open one fit the bounds (count, and memory once a feature map's size is known). */
  ahead(exemplars: number): number {
    if (this.featureBytes <= 0) return PREFETCH_AHEAD;
    return Math.max(1, Math.min(PREFETCH_AHEAD, Math.floor(HOST_MEMORY_BYTES / this.featureBytes) - exemplars - 1));
  }

  /** Prefetches for the open image and the next ones, replacing what was asked before. */
  async request(r: PrefetchRequest): Promise<PrefetchStatus> {
    const seq = ++this.requests;
    if (this.want && this.want.categoryId !== r.categoryId) {
      // nothing more of the old category starts while the new one is planned
      this.cancel('the category changed');
      this.want = null;
    }
    const ids = [...new Set([...(r.openImageId !== undefined ? [r.openImageId] : []), ...r.imageIds])];
    if (ids.length === 0) return this.stop();
    let plan: SuggestPlan;
    let open = r.openImageId !== undefined ? 1 : 0;
    try {
      plan = await this.plan(r, ids);
    } catch (err) {
      // nothing to prefetch with yet (no exemplar, no schema): not a failure of the window's
      if (!(err instanceof AppError && err.code === 'INVALID_ARGUMENT')) throw err;
      try {
        // the open image may be the only exemplar: the next ones can still be prefetched
        if (!open || ids.length < 2) throw err;
        plan = await this.plan(r, ids.slice(1));
        open = 0;
      } catch {
        if (seq !== this.requests) return this.current();
        this.cancel('nothing to prefetch');
        this.want = null;
        return this.emit({ ...OFF, categoryId: r.categoryId, note: err.message });
      }
    }
    // a later request (the annotator moved on while this one was planned) decides
    if (seq !== this.requests) return this.current();
    plan = { ...plan, targets: plan.targets.slice(0, open + this.ahead(plan.exemplars.length)) };
    const key = readyKey(plan);
    if (this.want && this.want.key !== key) this.cancel('the settings changed');
    this.want = { categoryId: r.categoryId, openImageId: open ? r.openImageId! : null, plan, key };
    // the serve host opens the model now, so that even the first Suggest finds it warm
    const hosts = this.ctx.suggestHosts();
    if (!hosts.serve.running || this.serveKey !== engineKey(plan)) {
      this.serveKey = engineKey(plan);
      hosts.serve.request('open', { plan: { ...plan, targets: plan.targets.slice(0, 1) } }).catch(() => (this.serveKey = null));
    }
    void this.pump();
    return this.emit(this.current());
  }

  private plan(r: PrefetchRequest, ids: number[]): Promise<SuggestPlan> {
    const svc = this.ctx.services();
    return planSuggestion(svc, planInput(svc, r.categoryId, r, ids));
  }

  /** Stops prefetching (Annotate closed): both hosts leave (the serve host once the suggestion it is computing is done). */
  stop(): PrefetchStatus {
    this.requests++;
    this.cancel('stopped');
    this.want = null;
    const hosts = this.ctx.suggestHosts();
    hosts.prefetch.kill('prefetching stopped');
    void hosts.serve.close();
    return this.emit(OFF);
  }

  /**
   * Runs a Suggest as a job answered by the warm serve host when its one image is prefetched (or
   * being prefetched: it waits for that, reusing the work); null when it is not (the caller runs
   * it in a job process as before).
   */
  serve(plan: SuggestPlan, title: string): { jobId: string } | null {
    const w = this.want;
    if (!w || plan.targets.length !== 1 || w.categoryId !== plan.categoryId || readyKey(plan) !== w.key) return null;
    const id = plan.targets[0].imageId;
    const inflight = this.inflight && this.inflight.imageId === id && this.inflight.key === w.key ? this.inflight.done : null;
    if (this.ready.get(id) !== w.key && !inflight) return null;
    this.claiming++;
    try {
      const { job } = this.ctx.jobs.run('suggest', title, (task) => this.serveOne(plan, task, inflight));
      return { jobId: job.id };
    } finally {
      this.claiming--;
    }
  }

  private async serveOne(plan: SuggestPlan, task: TaskContext & { jobId: string }, inflight: Promise<void> | null): Promise<{ images: number; seconds: number; computed: number; warm: boolean }> {
    const t = plan.targets[0];
    const w = this.want;
    let offCancel = () => {};
    const cancelled = new Promise<never>((_, reject) => {
      offCancel = task.token.onCancel(() => reject(new CancelledError('Cancelled: cancelled by the user')));
    });
    cancelled.catch(() => {});
    try {
      if (inflight) {
        task.progress({ stage: 'waiting for the features being prefetched', done: 0, total: 1, detail: t.path });
        await Promise.race([inflight, cancelled]);
      }
      task.token.throwIfCancelled();
      if (!w || this.ready.get(t.imageId) !== w.key) {
        // the prefetch did not finish it (a job of the user's stopped it): a job process of its own
        this.userJobs.set(task.jobId, 'Suggest');
        this.preempt();
        const r = await suggestInProcess(jobRunner(this.ctx), this.ctx.services(), plan, task);
        return { ...r, computed: -1, warm: false };
      }
      task.progress({ stage: 'suggesting keypoints', done: 0, total: 1, detail: t.path });
      const a = await Promise.race([this.ctx.suggestHosts().serve.request<HostAnswer>('suggest', { plan }), cancelled]);
      task.token.throwIfCancelled();
      await this.store(plan, a);
      this.counters.servedWarm++;
      task.progress({ stage: 'suggesting keypoints', done: 1, total: 1, detail: t.path });
      return { images: 1, seconds: a.seconds, computed: a.computed, warm: true };
    } finally {
      // a job process it fell back to counted as the user's until the job ends (onJob)
      offCancel();
    }
  }

  /** Stores a suggestion the serve host computed, as a suggest job does (plan.ts runSuggestPlan). */
  private async store(plan: SuggestPlan, a: HostAnswer): Promise<void> {
    const t = plan.targets[0];
    const s = a.suggestion!;
    await storeSuggestion(this.ctx.services(), plan, t.imageId, { ...s, seconds: a.seconds });
    this.ctx.events.emit('suggest:changed', { datasetId: plan.datasetId, categoryId: plan.categoryId, imageId: t.imageId });
  }

  private onJob(j: JobInfo): void {
    if (j.state === 'running') {
      if (this.claiming > 0) this.own.add(j.id);
      if (this.own.has(j.id) || this.userJobs.has(j.id)) return;
      this.userJobs.set(j.id, j.title);
      this.preempt();
      return;
    }
    this.own.delete(j.id);
    if (this.userJobs.delete(j.id) && this.userJobs.size === 0 && this.want) void this.pump();
  }

  /** A job of the user's started: the prefetch host leaves at once (its memory and cores are the job's). */
  private preempt(): void {
    const host = this.ctx.suggestHosts().prefetch;
    if (host.running) {
      if (this.inflight) this.counters.preempted++;
      host.kill('prefetching yields to a job the user started');
    }
    if (this.want) this.emit(this.current());
  }

  /** Drops the work in hand (another category, other settings, stop). */
  private cancel(_why: string): void {
    if (this.inflight) this.ctx.suggestHosts().prefetch.kill(`prefetching stopped: ${_why}`);
    this.failed.clear();
  }

  private current(): PrefetchStatus {
    const w = this.want;
    if (!w) return OFF;
    const ids = w.plan.targets.map((t) => t.imageId);
    const ready = ids.filter((id) => this.ready.get(id) === w.key).length;
    const paused = this.userJobs.size > 0;
    const failed = ids.map((id) => this.failed.get(id)).find((m) => m !== undefined) ?? null;
    const inflight = this.inflight && this.inflight.key === w.key ? this.inflight.imageId : null;
    const state = paused ? 'paused' : ready + ids.filter((id) => this.failed.has(id)).length >= ids.length && inflight === null ? 'done' : 'running';
    const note = paused ? `paused while ${[...this.userJobs.values()][0]} runs` : failed;
    return { categoryId: w.categoryId, state, ready, total: ids.length, imageId: paused ? null : inflight, note };
  }

  private emit(s: PrefetchStatus): PrefetchStatus {
    this.last = s;
    this.ctx.events.emit('suggest:prefetch', s);
    return s;
  }

  /** Prefetches the wanted images one at a time until all are ready, a job of the user's runs, or nothing is wanted. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const w = this.want;
        if (!w || this.userJobs.size > 0) break;
        const next = w.plan.targets.find((t) => this.ready.get(t.imageId) !== w.key && !this.failed.has(t.imageId));
        if (!next) break;
        let settle = () => {};
        this.inflight = { imageId: next.imageId, key: w.key, done: new Promise<void>((r) => (settle = r)) };
        this.emit(this.current());
        try {
          const a = await this.ctx.suggestHosts().prefetch.request<HostAnswer>('prefetch', { plan: { ...w.plan, targets: [next] }, mirror: next.imageId === w.openImageId });
          this.ready.set(next.imageId, w.key);
          this.counters.prefetched++;
          if (a.featureBytes > 0) this.featureBytes = a.featureBytes;
        } catch (err) {
          // killed on purpose (a job of the user's, another category): the loop looks again;
          // anything else is that image's failure, not retried
          if (!(err instanceof AppError && err.code === 'CANCELLED') && this.want === w) {
            this.failed.set(next.imageId, `prefetching ${next.path} failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        } finally {
          this.inflight = null;
          settle();
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.want) this.emit(this.current());
  }
}

const prefetchers = new WeakMap<AppContext, Prefetcher>();

/** The application's prefetcher, made on first use. */
export function prefetcherOf(ctx: AppContext): Prefetcher {
  let p = prefetchers.get(ctx);
  if (!p) {
    p = new Prefetcher(ctx);
    prefetchers.set(ctx, p);
  }
  return p;
}

/**
 * `suggest:start`: a one-image Suggest on a prefetched image is answered by the warm serve host;
 * anything else runs in a job process of its own, as before.
 */
export async function startSuggestWarm(ctx: AppContext, a: SuggestRequest): Promise<{ jobId: string }> {
  const svc = ctx.services();
  const plan = await planSuggestion(svc, planInput(svc, a.categoryId, a, a.imageIds));
  return prefetchers.get(ctx)?.serve(plan, suggestTitle(plan)) ?? startSuggestPlan(ctx, plan);
}

export async function startPrefetch(ctx: AppContext, r: PrefetchRequest): Promise<PrefetchStatus> {
  return prefetcherOf(ctx).request(r);
}

export async function stopPrefetch(ctx: AppContext): Promise<PrefetchStatus> {
  return prefetchers.get(ctx)?.stop() ?? OFF;
}

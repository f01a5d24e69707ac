/**
 * Training and evaluation runs: the history (kept current by `run:updated`, `train:step` and eval
 * job events), what is live about running ones (steps/s, ETA, provider), the launch form's draft
 * (kept while the user visits other views), and `RunMonitor`, the metric series of one run that
 * the live charts draw.
 *
 * Chart data are plain arrays, never `$state`: chart.js watches the arrays it is given and a
 * proxy per point would cost more than the chart. A monitor bumps `revision` when they change and
 * the chart redraws at most once per animation frame.
 */
import type { InvokeArgs, RunDetails, RunSummary, TrainStarted, TrainStep, TrainValidation } from '../../../../main/contract/index.js';
import { describeError, getApi } from '../api.js';
import { attempt } from '../errors.js';
import { toasts } from './toasts.svelte.js';
import { backend } from './backend.svelte.js';
import { defaultDraft, type LaunchDraft, rememberedOf, restoreDraft } from '../components/runs/launch.js';

/** The launch form's values per dataset (`…draft.<datasetId>`) and the dataset used last. */
const DRAFT_KEY = 'sd4match.launch.draft';
const LAST_DATASET_KEY = 'sd4match.launch.dataset';

function storedDraft(datasetId: number): unknown {
  try {
    return JSON.parse(localStorage.getItem(`${DRAFT_KEY}.${datasetId}`) ?? 'null');
  } catch {
    return null;
  }
}

/** The draft a page starts with: the dataset used last, with the values used with it. */
function initialDraft(): LaunchDraft {
  const d = defaultDraft();
  const last = Number(localStorage.getItem(LAST_DATASET_KEY));
  if (Number.isInteger(last) && last > 0) {
    d.datasetId = last;
    restoreDraft(d, storedDraft(last));
  }
  return d;
}

/** What the latest `train:step` said about a running run. */
export interface LiveInfo {
  step: number;
  loss: number;
  stepsPerSecond: number;
  etaSeconds: number;
  provider: string | null;
}

export const STATUS_CLASS: Record<RunSummary['status'], string> = {
  queued: '',
  running: 'accent',
  paused: 'warn',
  completed: 'ok',
  failed: 'bad',
  cancelled: 'warn',
};

class Runs {
  list = $state<RunSummary[]>([]);
  loaded = $state(false);
  live = $state<Record<number, LiveInfo>>({});
  draft = $state<LaunchDraft>(initialDraft());
  /** The dataset whose values the draft holds (another one chosen: its values come back). */
  private draftDataset: number | null = this.draft.datasetId;
  private started = false;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  start(): void {
    if (this.started) return;
    this.started = true;
    const api = getApi();
    api.on('run:updated', (r) => this.upsert(r));
    api.on('train:started', (s: TrainStarted) => {
      const prev = this.live[s.runId];
      this.live[s.runId] = { step: s.resumedFrom, loss: prev?.loss ?? NaN, stepsPerSecond: 0, etaSeconds: NaN, provider: s.provider };
    });
    api.on('train:step', (s: TrainStep) => {
      const prev = this.live[s.runId];
      this.live[s.runId] = { step: s.step, loss: s.loss, stepsPerSecond: s.stepsPerSecond, etaSeconds: s.etaSeconds, provider: prev?.provider ?? null };
      const r = this.list.find((x) => x.id === s.runId);
      if (r && r.step !== s.step) r.step = s.step;
    });
    api.on('train:validation', (v: TrainValidation) => {
      const r = this.list.find((x) => x.id === v.runId);
      const at = v.pck['0.1'];
      if (r && at !== undefined && (r.bestPck === null || at > r.bestPck)) r.bestPck = at;
    });
    // evaluation runs are written by their worker (a sweep's one by one): list them as their job goes on
    api.on('job:updated', (j) => {
      if (j.kind === 'eval' || j.kind === 'sweep') this.refreshSoon();
    });
    // the engine came back (a restarted server failed the runs its killed jobs held): read them again
    backend.onReconnect(() => void this.refresh());
    void this.refresh();
  }

  async refresh(): Promise<void> {
    // attempt never rejects: the list counts as loaded either way
    await attempt('Listing runs', async () => {
      this.list = await getApi().invoke('runs:list', {});
      // what the events said of a run that is no longer running gives way to what is stored
      for (const r of this.list) if (r.status !== 'running') delete this.live[r.id];
    });
    this.loaded = true;
  }

  /** Coalesces bursts of job updates into one reload. */
  private refreshSoon(): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 300);
  }

  /**
   * Keeps the launch form's values per dataset, across reloads: when the draft's dataset changed,
   * the values last used with that one come back (if any); then the draft is remembered. Reads
   * every field of the draft, so an effect calling it runs again on any change.
   */
  keepDraft(): void {
    const d = this.draft;
    const id = d.datasetId;
    if (id !== this.draftDataset) {
      this.draftDataset = id;
      if (id !== null) restoreDraft(d, storedDraft(id));
    }
    const values = JSON.stringify(rememberedOf(d));
    if (id === null) return;
    try {
      localStorage.setItem(`${DRAFT_KEY}.${id}`, values);
      localStorage.setItem(LAST_DATASET_KEY, String(id));
    } catch {
      // storage full or off: the form still works, it just forgets
    }
  }

  get(id: number | null): RunSummary | undefined {
    return id === null ? undefined : this.list.find((r) => r.id === id);
  }

  upsert(r: RunSummary): void {
    const i = this.list.findIndex((x) => x.id === r.id);
    const before = i >= 0 ? this.list[i] : undefined;
    if (i >= 0) this.list[i] = r;
    else this.list = [r, ...this.list].sort((a, b) => b.id - a.id);
    if (r.status !== 'running') delete this.live[r.id];
    if (r.status === 'failed' && before && before.status !== 'failed') toasts.error(`Run “${r.name}” failed`, r.failureReason ?? '');
    if (r.status === 'completed' && before && before.status === 'running') toasts.success(`Run “${r.name}” completed`, r.bestPck !== null ? `Best PCK@0.1 ${(100 * r.bestPck).toFixed(1)}%` : '');
  }

  /** A run with its details (checkpoints, configuration); rejects with the engine's error. */
  details(id: number): Promise<RunDetails> {
    return getApi().invoke('runs:get', { id });
  }

  /** Starts a training run; resolves with its id (rejects with the engine's error, for the form). */
  async train(args: InvokeArgs<'runs:train'>): Promise<number> {
    return (await getApi().invoke('runs:train', args)).runId;
  }

  async cancel(r: RunSummary): Promise<boolean> {
    return attempt(
      `Cancelling “${r.name}”`,
      async () => {
        const { cancelled } = await getApi().invoke('runs:cancel', { id: r.id });
        if (!cancelled) toasts.info(`Run “${r.name}” was not running`, 'It may have just finished.');
        return cancelled;
      },
      false,
    );
  }

  async resume(r: RunSummary): Promise<boolean> {
    return attempt(
      `Resuming “${r.name}”`,
      async () => {
        await getApi().invoke('runs:resume', { id: r.id });
        return true;
      },
      false,
    );
  }

  async remove(r: RunSummary): Promise<boolean> {
    return attempt(
      `Deleting “${r.name}”`,
      async () => {
        await getApi().invoke('runs:delete', { id: r.id });
        this.list = this.list.filter((x) => x.id !== r.id);
        return true;
      },
      false,
    );
  }
}

export const runs = new Runs();

/** Seconds a run has spent running (not the time it sat cancelled or paused), ticking on with `now` while it runs. */
export function activeSeconds(r: RunSummary, now: number): number | null {
  if (r.status === 'running' && r.resumedAt !== null) return r.pastSeconds + Math.max(0, now - r.resumedAt) / 1000;
  return r.seconds;
}

// -------------------------------------------------------------------------------------------------
// Metric series of one run, for the live charts
// -------------------------------------------------------------------------------------------------

export interface Point {
  x: number;
  y: number;
}

/** The validation thresholds the trainer reports (`val_pck/<alpha>` in the store). */
export const PCK_ALPHAS = ['0.05', '0.1', '0.15'] as const;
export type PckAlpha = (typeof PCK_ALPHAS)[number];

const METRIC_NAMES = ['loss', ...PCK_ALPHAS.map((a) => `val_pck/${a}`)];
/** How often a monitor re-reads stored metrics while it misses steps (the engine writes them every 2 s). */
const GAP_POLL_MS = 3000;

/** Inserts or replaces the point at `x` in a series sorted by x, and says which it did. */
function put(series: Point[], x: number, y: number): 'append' | 'insert' | 'replace' {
  const last = series[series.length - 1];
  if (!last || x > last.x) {
    series.push({ x, y });
    return 'append';
  }
  let lo = 0;
  let hi = series.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (series[mid]!.x < x) lo = mid + 1;
    else hi = mid;
  }
  if (series[lo]?.x === x) {
    series[lo] = { x, y };
    return 'replace';
  }
  series.splice(lo, 0, { x, y });
  return 'insert';
}

/**
 * The loss and validation PCK series of one training run: its stored history first (`runs:metrics`),
 * then `train:*` events as they arrive, deduplicated by step. Events that arrive while the history
 * loads are kept and applied after it. Metrics reach the store every few seconds, so a run opened
 * mid-flight can miss the steps between the last write and the first event seen here: the
 * monitor re-reads the store until the series has no hole. A resumed run continues from its
 * checkpoint: the steps after it are dropped (the engine drops them too) and come again.
 */
export class RunMonitor {
  /** Raw training loss per step. */
  readonly loss: Point[] = [];
  /** Exponential moving average of the loss (debiased, as TensorBoard smooths). */
  readonly smooth: Point[] = [];
  readonly pck: Record<PckAlpha, Point[]> = { '0.05': [], '0.1': [], '0.15': [] };
  /** Bumped whenever a series changed. */
  revision = $state(0);
  loading = $state(true);
  error = $state<string | null>(null);
  private smoothing: number;
  private emaValue = 0;
  private emaCount = 0;
  private pending: (() => void)[] | null = [];
  private readonly offs: (() => void)[] = [];
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;

  constructor(
    readonly runId: number,
    smoothing: number,
    /** Whether the run is training now (holes in the series are worth waiting for). */
    private readonly isRunning: () => boolean,
  ) {
    this.smoothing = smoothing;
  }

  start(): void {
    const api = getApi();
    const when = (f: () => void) => {
      if (this.pending) this.pending.push(f);
      else f();
    };
    this.offs.push(
      api.on('train:step', (s) => {
        if (s.runId === this.runId) when(() => this.addLoss(s.step, s.loss, true));
      }),
      api.on('train:validation', (v) => {
        if (v.runId === this.runId) when(() => this.addValidation(v.step, v.pck));
      }),
      api.on('train:started', (s) => {
        if (s.runId === this.runId) when(() => this.truncate(s.resumedFrom));
      }),
      // the engine came back: what it stored meanwhile (and before a failed read) is read again
      backend.onReconnect(() => void this.load()),
    );
    void this.load();
  }

  dispose(): void {
    this.disposed = true;
    for (const off of this.offs.splice(0)) off();
    if (this.gapTimer !== null) clearTimeout(this.gapTimer);
  }

  /** The EMA weight in [0, 1): 0 draws the raw loss. */
  setSmoothing(w: number): void {
    this.smoothing = w;
    this.recomputeSmooth();
    this.revision++;
  }

  private async load(): Promise<void> {
    try {
      const m = await getApi().invoke('runs:metrics', { id: this.runId, names: METRIC_NAMES });
      if (this.disposed) return;
      this.merge(m);
      this.error = null;
    } catch (err) {
      if (!this.disposed) this.error = describeError(err);
    } finally {
      this.loading = false;
    }
    const queued = this.pending ?? [];
    this.pending = null;
    for (const f of queued) f();
    this.revision++;
    this.watchGap();
  }

  private merge(m: Record<string, { step: number; value: number }[]>): void {
    for (const p of m.loss ?? []) put(this.loss, p.step, p.value);
    for (const a of PCK_ALPHAS) for (const p of m[`val_pck/${a}`] ?? []) put(this.pck[a], p.step, p.value);
    this.recomputeSmooth();
  }

  /** The last step s such that steps 1..s are all present. */
  private contiguous(): number {
    // steps are 1, 2, 3, ...: the first index whose step is not index + 1 ends the run of them
    let lo = 0;
    let hi = this.loss.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.loss[mid]!.x === mid + 1) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private hasGap(): boolean {
    const last = this.loss[this.loss.length - 1];
    return last !== undefined && this.contiguous() < last.x;
  }

  /** Re-reads the stored metrics now if the series has a hole (e.g. the run just stopped and flushed). */
  refill(): void {
    if (this.pending || !this.hasGap()) return;
    if (this.gapTimer !== null) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    this.watchGap(0);
  }

  private watchGap(delay = GAP_POLL_MS): void {
    if (this.disposed || this.gapTimer !== null || !this.hasGap()) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.disposed) return;
      const after = this.contiguous();
      getApi()
        .invoke('runs:metrics', { id: this.runId, names: METRIC_NAMES, afterStep: after })
        .then(
          (m) => {
            if (this.disposed) return;
            this.merge(m);
            this.revision++;
            // a finished run has everything stored: one more read is enough
            if (this.isRunning() || this.hasGap()) this.watchGap();
          },
          (err: unknown) => {
            if (!this.disposed) this.error = describeError(err);
          },
        );
    }, delay);
  }

  private addLoss(step: number, value: number, live: boolean): void {
    const how = put(this.loss, step, value);
    if (how === 'append') {
      this.emaValue = this.smoothing * this.emaValue + (1 - this.smoothing) * value;
      this.emaCount++;
      this.smooth.push({ x: step, y: this.emaValue / (1 - this.smoothing ** this.emaCount) });
    } else this.recomputeSmooth();
    this.revision++;
    if (live) this.watchGap();
  }

  private addValidation(step: number, pck: Record<string, number>): void {
    for (const a of PCK_ALPHAS) {
      const v = pck[a];
      if (v !== undefined) put(this.pck[a], step, v);
    }
    this.revision++;
  }

  /** Drops every point after `step` (a resumed run repeats the steps after its checkpoint). */
  private truncate(step: number): void {
    const cut = (s: Point[]) => {
      let n = s.length;
      while (n > 0 && s[n - 1]!.x > step) n--;
      s.length = n;
    };
    cut(this.loss);
    for (const a of PCK_ALPHAS) cut(this.pck[a]);
    this.recomputeSmooth();
    this.revision++;
  }

  private recomputeSmooth(): void {
    this.smooth.length = 0;
    this.emaValue = 0;
    this.emaCount = 0;
    const w = this.smoothing;
    for (const p of this.loss) {
      this.emaValue = w * this.emaValue + (1 - w) * p.y;
      this.emaCount++;
      this.smooth.push({ x: p.x, y: this.emaValue / (1 - w ** this.emaCount) });
    }
  }
}

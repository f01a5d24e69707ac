/**
 * Timestep sweeps (SD4Match Fig. 3b): evaluations of prompts over a set of timesteps, one stored
 * evaluation run per prompt and timestep. Keeps the shown dataset's sweeps, the chosen one's PCK
 * against t (reloaded as its runs complete: from `run:updated`, and from the running sweep's job
 * moving on to its next evaluation, since its job process stores them without an event), and the
 * sweep jobs started from here (they outlive a visit to another view).
 */
import type { SweepResult, SweepStart, SweepSummary } from '../../../../main/contract/index.js';
import { describeError, getApi } from '../api.js';
import { handleError } from '../errors.js';
import { jobs } from './jobs.svelte.js';
import { estimates, MemoryEstimator } from './memory.svelte.js';

class Sweeps {
  /** The dataset whose sweeps are listed. */
  datasetId = $state<number | null>(null);
  list = $state<SweepSummary[]>([]);
  loaded = $state(false);
  /** The sweep picked from the list (null: the newest). */
  picked = $state<string | null>(null);
  result = $state<SweepResult | null>(null);
  error = $state<string | null>(null);
  /** Sweep jobs started here that are still running, by sweep id. */
  running = $state<Record<string, string>>({});
  /** Bumped when a sweep's runs changed: the chart reloads. */
  revision = $state(0);
  /** What the features of the sweep's evaluations will need in memory. */
  readonly memory = new MemoryEstimator(150, estimates.features);

  private started = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  start(): void {
    if (this.started) return;
    this.started = true;
    // a sweep's evaluation finished (or started): the list's counts and the chart move on
    getApi().on('run:updated', (r) => {
      if (r.kind === 'eval' && r.datasetId === this.datasetId) this.refresh();
    });
  }

  /** The sweep shown: the one picked, else the newest. */
  get shownId(): string | null {
    if (this.picked !== null && this.list.some((s) => s.id === this.picked)) return this.picked;
    return this.list[0]?.id ?? null;
  }

  /** Lists the dataset's sweeps (a new dataset forgets the pick). */
  async load(datasetId: number): Promise<void> {
    if (datasetId !== this.datasetId) {
      this.datasetId = datasetId;
      this.list = [];
      this.loaded = false;
      this.picked = null;
      this.result = null;
    }
    try {
      const list = await getApi().invoke('evals:sweeps', { datasetId });
      if (this.datasetId !== datasetId) return;
      this.list = list;
      this.error = null;
    } catch (err) {
      if (this.datasetId === datasetId) this.error = describeError(err);
    } finally {
      if (this.datasetId === datasetId) this.loaded = true;
    }
    this.revision++;
  }

  /** Reloads the list and the chart shortly (runs complete in bursts). */
  refresh(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.datasetId !== null) void this.load(this.datasetId);
    }, 250);
  }

  /** Loads the PCK-against-t of a sweep. */
  async loadResult(sweepId: string): Promise<void> {
    try {
      const r = await getApi().invoke('evals:sweepResult', { sweepId });
      if (this.shownId !== sweepId) return;
      this.result = r;
      this.error = null;
    } catch (err) {
      if (this.shownId === sweepId) this.error = describeError(err);
    }
  }

  /** Starts a sweep as a job and shows it; resolves with the sweep id once it started (null if not). */
  async sweep(args: SweepStart): Promise<string | null> {
    try {
      const { jobId, sweepId } = await getApi().invoke('evals:sweep', args);
      this.running = { ...this.running, [sweepId]: jobId };
      this.picked = sweepId;
      await this.load(args.datasetId);
      void jobs
        .result(jobId)
        .catch((err: unknown) => handleError(err, 'Running the timestep sweep'))
        .finally(() => {
          const { [sweepId]: _, ...rest } = this.running;
          this.running = rest;
          if (this.datasetId === args.datasetId) void this.load(args.datasetId);
        });
      return sweepId;
    } catch (err) {
      handleError(err, 'Starting the timestep sweep');
      return null;
    }
  }
}

export const sweeps = new Sweeps();

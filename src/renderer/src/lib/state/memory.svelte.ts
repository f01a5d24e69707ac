/**
 * What a training run or a Compare request will need in memory, asked of the engine
 * (`runs:estimate`, `compare:estimate`) as its settings change: debounced, the latest request
 * wins, and the answer is kept with the settings it is about, so an answer for earlier settings
 * never blocks (nor reassures about) the current ones.
 */
import { untrack } from 'svelte';
import type { InvokeArgs, MemoryCheck } from '../../../../main/contract/index.js';
import { describeError, getApi } from '../api.js';

/** Asks the engine what the settings a key stands for (their arguments as JSON) will need. */
export type AskEstimate = (key: string) => Promise<MemoryCheck>;

/** The engine's estimates, by what is estimated: each key is its method's arguments as JSON. */
export const estimates = {
  /** Features for predictions, heatmaps and evaluations (Compare, its sweeps). */
  features: (key: string) => getApi().invoke('compare:estimate', JSON.parse(key) as InvokeArgs<'compare:estimate'>),
  /** A training run (the launch form). */
  training: (key: string) => getApi().invoke('runs:estimate', JSON.parse(key) as InvokeArgs<'runs:estimate'>),
  /** Generating images (the gallery). */
  generation: (key: string) => getApi().invoke('generate:estimate', JSON.parse(key) as InvokeArgs<'generate:estimate'>),
} satisfies Record<string, AskEstimate>;

export type EstimatePhase = 'idle' | 'pending' | 'ready' | 'error';

export class MemoryEstimator {
  /** The settings (as a key) the fields below are about; null when there is nothing to estimate. */
  key = $state<string | null>(null);
  phase = $state<EstimatePhase>('idle');
  check = $state<MemoryCheck | null>(null);
  /** Why the estimate itself failed (the engine still refuses what will not fit when asked to run it). */
  error = $state<string | null>(null);
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped per request: answers to older ones are dropped. */
  private seq = 0;

  /** @param ask the engine's estimate for a key (one of `estimates`) */
  constructor(
    private readonly delayMs: number,
    private readonly ask: AskEstimate,
  ) {}

  /**
   * Estimates the settings `key` stands for, after the debounce; nothing when they are
   * the ones already estimated (or being estimated), nothing shown for null. Safe to call from an
   * effect: it reads its own state untracked.
   */
  update(key: string | null): void {
    untrack(() => {
      if (key === this.key) return;
      this.cancel();
      const seq = ++this.seq;
      this.key = key;
      this.check = null;
      this.error = null;
      if (key === null) {
        this.phase = 'idle';
        return;
      }
      this.phase = 'pending';
      this.timer = setTimeout(() => {
        this.timer = null;
        this.ask(key).then(
          (check) => {
            if (seq !== this.seq) return;
            this.check = check;
            this.phase = 'ready';
          },
          (err: unknown) => {
            if (seq !== this.seq) return;
            this.error = describeError(err) ?? 'the estimate was cancelled';
            this.phase = 'error';
          },
        );
      }, this.delayMs);
    });
  }

  /** The engine's refusal when the settings `key` stands for will not fit; null otherwise (also while unknown). */
  refusal(key: string | null): string | null {
    if (key === null || key !== this.key || this.phase !== 'ready' || !this.check || this.check.fits) return null;
    return this.check.message ?? `${this.check.what} will not fit in the free memory`;
  }

  /** Whether the answer for the settings `key` stands for is in (an estimate, or its failure). */
  settled(key: string | null): boolean {
    return key !== null && key === this.key && (this.phase === 'ready' || this.phase === 'error');
  }

  /** Forgets the settings (a later `update` with the same key asks again) and drops a pending request. */
  reset(): void {
    this.cancel();
    this.seq++;
    this.key = null;
    this.phase = 'idle';
    this.check = null;
    this.error = null;
  }

  private cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Compare's look at one pair, for as long as the view is open (the view makes one): the pair, the
 * clicked source point, the chosen prompts' predictions and their similarity heatmaps, and the
 * engine's refusal of settings that will not fit in memory (OUT_OF_MEMORY), remembered for those
 * settings so nothing more is asked at them until they change.
 *
 * The view's effects decide when to ask (a change of the pair, of what is asked, of the memory
 * estimate); the methods here ask, drop answers that came too late, and return the cleanup that
 * makes them late.
 */
import type { Heatmap, InvokeArgs, PairView, Prediction } from '../../../../main/contract/index.js';
import { ApiError, describeError } from '../api.js';
import type { ClickedPoint } from '../components/compare/geometry.js';
import { handleError } from '../errors.js';
import { compare } from './compare.svelte.js';

export type RequestPhase = 'idle' | 'loading' | 'ready' | 'error' | 'refused';

export class ComparePair {
  pair = $state<PairView | null>(null);
  pairError = $state<string | null>(null);
  /** The clicked source point whose heatmaps are shown (Escape closes them). */
  point = $state<ClickedPoint | null>(null);
  predicted = $state<{ pairId: number; predictions: Prediction[]; threshold: number } | null>(null);
  predPhase = $state<RequestPhase>('idle');
  predError = $state<string | null>(null);
  heat = $state<{ key: string; heatmaps: Heatmap[]; size: number } | null>(null);
  heatPhase = $state<RequestPhase>('idle');
  /** Of the heatmaps over the target (kept while the view is open). */
  opacity = $state(0.75);
  /** The engine refused a request at these settings (OUT_OF_MEMORY): not asked again until they change. */
  private refused = $state<{ key: string; message: string } | null>(null);

  /** Shows pair `id` (none for null); the point closes. Returns the cleanup that drops a late answer. */
  load(id: number | null): (() => void) | undefined {
    this.point = null;
    if (id === null) {
      this.pair = null;
      return;
    }
    let stale = false;
    this.pairError = null;
    compare.pair(id).then(
      (p) => {
        if (!stale) this.pair = p;
      },
      (err: unknown) => {
        if (stale) return;
        this.pair = null;
        this.pairError = describeError(err);
      },
    );
    return () => {
      stale = true;
    };
  }

  /** The feature settings (as their memory key) changed: estimate them; an earlier refusal no longer applies. */
  estimate(settingsKey: string | null): void {
    this.refused = null;
    compare.memory.update(settingsKey);
  }

  /** Why predictions and heatmaps are not computed at these settings, if they will not fit. */
  memoryRefusal(settingsKey: string | null): string | null {
    const refused = this.refused;
    return compare.memory.refusal(settingsKey) ?? (refused && refused.key === settingsKey ? refused.message : null);
  }

  /** An OUT_OF_MEMORY refusal of a request: remembered for its settings (true), or another error (false). */
  private outOfMemory(err: unknown, key: string | null): boolean {
    if (!(err instanceof ApiError) || err.code !== 'OUT_OF_MEMORY' || key === null) return false;
    this.refused = { key, message: err.message };
    return true;
  }

  /**
   * Predicts what `key` asks (the request as JSON; null: nothing to ask), once the estimate of its
   * settings is in (`known`) and unless they will not fit (`refusal`). Returns the cleanup.
   */
  predict(key: string | null, refusal: string | null, known: boolean, settingsKey: string | null): (() => void) | undefined {
    if (key === null) {
      this.predPhase = 'idle';
      return;
    }
    if (refusal !== null) {
      this.predPhase = 'refused';
      this.predError = refusal;
      return;
    }
    this.predError = null;
    if (!known) {
      this.predPhase = 'loading';
      return;
    }
    const args = JSON.parse(key) as InvokeArgs<'compare:predict'>;
    let stale = false;
    this.predPhase = 'loading';
    // settings typed in quick succession ask once
    const t = setTimeout(() => {
      compare.predict(args).then(
        (r) => {
          if (stale) return;
          this.predicted = { pairId: args.pairId, predictions: r.predictions, threshold: r.threshold };
          this.predPhase = 'ready';
        },
        (err: unknown) => {
          if (stale) return;
          if (this.outOfMemory(err, settingsKey)) return;
          this.predPhase = 'error';
          this.predError = describeError(err);
          handleError(err, 'Predicting keypoints');
        },
      );
    }, 120);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }

  /** The heatmaps `key` asks for (the request as JSON), as `predict` does. Returns the cleanup. */
  heatmaps(key: string | null, refusal: string | null, known: boolean, settingsKey: string | null): (() => void) | undefined {
    if (key === null) {
      this.heatPhase = 'idle';
      return;
    }
    if (refusal !== null) {
      this.heatPhase = 'refused';
      return;
    }
    if (!known) {
      this.heatPhase = 'loading';
      return;
    }
    const args = JSON.parse(key) as InvokeArgs<'compare:heatmap'> & { size: number };
    let stale = false;
    this.heatPhase = 'loading';
    const t = setTimeout(() => {
      compare.heatmaps(args).then(
        (r) => {
          if (stale) return;
          this.heat = { key, heatmaps: r.heatmaps, size: args.size };
          this.heatPhase = 'ready';
        },
        (err: unknown) => {
          if (stale) return;
          if (this.outOfMemory(err, settingsKey)) return;
          this.heatPhase = 'error';
          handleError(err, 'Computing the heatmaps');
        },
      );
    }, 60);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }
}

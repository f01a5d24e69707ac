/**
 * The prompts the engine knows: prompts learned by training runs and the zero-shot baselines (the
 * empty prompt, the template, DINOv2 features). Runs opens a run's prompt in Compare; Compare
 * picks prompts to overlay and evaluates them. Refreshed when a training run completes.
 */
import type { PromptSummary } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';
import { attempt } from '../errors.js';

/** How a prompt kind reads in the UI. */
export const PROMPT_KIND_LABELS: Record<PromptSummary['kind'], string> = {
  single: 'Single',
  class: 'Class',
  cpm: 'CPM',
  baseline: 'Baseline',
};

class Prompts {
  list = $state<PromptSummary[]>([]);
  loaded = $state(false);
  private started = false;
  private refreshing: Promise<void> | null = null;

  start(): void {
    if (this.started) return;
    this.started = true;
    // a completed run has just stored its prompt
    getApi().on('run:updated', (r) => {
      if (r.kind === 'train' && r.status === 'completed') void this.refresh();
    });
    void this.refresh();
  }

  /** Reloads the list (concurrent callers share one request). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        await attempt('Listing prompts', async () => {
          this.list = await getApi().invoke('prompts:list', {});
        });
      } finally {
        this.loaded = true;
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  get(id: number): PromptSummary | undefined {
    return this.list.find((p) => p.id === id);
  }

  /** Baselines plus the prompts learned on `datasetId` (what Compare offers for that dataset). */
  forDataset(datasetId: number | null): PromptSummary[] {
    return this.list.filter((p) => p.kind === 'baseline' || p.datasetId === datasetId);
  }
}

export const prompts = new Prompts();

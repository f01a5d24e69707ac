/**
 * Where the user is in Compare, read from the URL and changed through it:
 * `#/compare?dataset=1&split=val&category=cat&pair=9&prompts=4,1&alpha=0.1&method=kernelsoftmax
 * &sort=12&tab=gallery&pck=chart` (Runs opens a run's prompt here that way). A value the URL
 * lacks, or one that no longer exists (a deleted dataset, an unknown prompt), falls back to a
 * sensible default: the first dataset with pairs, the first split that has some, the Pair tab.
 */
import type { Split } from '../../../../main/contract/index.js';
import { ALPHAS, METHOD_LABELS, type MatchMethod } from './compare.svelte.js';
import { datasets } from './datasets.svelte.js';
import { prompts } from './prompts.svelte.js';
import { router } from './router.svelte.js';

/** The splits in the order Compare offers them (and looks for pairs in). */
export const SPLITS: Split[] = ['test', 'val', 'trn'];

export const COMPARE_TABS = [
  { id: 'pair', label: 'Pair', title: 'Predictions and similarity heatmaps on the chosen pair, PCK per category' },
  { id: 'gallery', label: 'Gallery', title: 'Images Stable Diffusion generates from the chosen prompts' },
  { id: 'sweep', label: 'Timesteps', title: 'PCK of the chosen prompts against the diffusion timestep' },
] as const;
export type CompareTab = (typeof COMPARE_TABS)[number]['id'];

class CompareLocation {
  /** The URL's dataset while it exists (a remembered or bookmarked one may have been deleted). */
  private readonly urlDataset = $derived.by(() => {
    const id = router.num('dataset');
    return id !== null && (!datasets.loaded || datasets.list.some((d) => d.id === id)) ? id : null;
  });
  readonly datasetId = $derived(this.urlDataset ?? datasets.list.find((d) => d.pairs > 0)?.id ?? datasets.list[0]?.id ?? null);
  readonly summary = $derived(datasets.summary(this.datasetId));
  readonly details = $derived(this.datasetId !== null ? datasets.details[this.datasetId] : undefined);
  readonly split = $derived.by((): Split => {
    const p = router.params.split;
    if (p === 'trn' || p === 'val' || p === 'test') return p;
    return SPLITS.find((s) => (this.details?.pairsBySplit[s] ?? 0) > 0) ?? 'test';
  });
  /** A category name; '' for all of them. */
  readonly category = $derived(router.params.category ?? '');
  readonly alpha = $derived(ALPHAS.find((a) => String(a) === router.params.alpha) ?? 0.1);
  readonly method = $derived((Object.keys(METHOD_LABELS) as MatchMethod[]).find((m) => m === router.params.method) ?? 'kernelsoftmax');
  /** The evaluation run whose errors order the pairs (worst first); null for list order. */
  readonly sortRunId = $derived(router.num('sort'));
  readonly pairId = $derived(router.num('pair'));
  readonly tab = $derived<CompareTab>(COMPARE_TABS.find((t) => t.id === router.params.tab)?.id ?? 'pair');
  readonly pckView = $derived<'table' | 'chart'>(router.params.pck === 'chart' ? 'chart' : 'table');
  /** The chosen prompts in the chosen order (unknown ids dropped once the prompts are known). */
  readonly chosen = $derived(
    (router.params.prompts ?? '')
      .split(',')
      .filter((x) => /^\d+$/.test(x))
      .map(Number)
      .filter((id, i, all) => all.indexOf(id) === i && (!prompts.loaded || prompts.get(id) !== undefined)),
  );

  /** Another dataset: its own split, category, pair, order and prompts. */
  setDataset(id: string): void {
    router.set({ dataset: id, split: null, category: null, pair: null, sort: null, prompts: null });
  }

  setSplit(split: string): void {
    router.set({ split, pair: null, sort: null });
  }

  /** '' for all categories. */
  setCategory(name: string): void {
    router.set({ category: name || null, pair: null });
  }

  /** '' for list order. */
  setSort(runId: string): void {
    router.set({ sort: runId || null });
  }

  setPair(id: number): void {
    router.set({ pair: id });
  }

  setPrompts(ids: number[]): void {
    router.set({ prompts: ids.join(',') });
  }

  setAlpha(alpha: number): void {
    router.set({ alpha });
  }

  setMethod(method: MatchMethod): void {
    router.set({ method });
  }

  setTab(tab: CompareTab): void {
    router.set({ tab: tab === 'pair' ? null : tab });
  }

  setPckView(view: 'table' | 'chart'): void {
    router.set({ pck: view === 'table' ? null : view });
  }
}

export const compareLocation = new CompareLocation();

/**
 * Compare's settings and shared bookkeeping: the feature settings predictions, heatmaps and
 * evaluations use (remembered per browser profile / window), what they will need in memory, one
 * colour per prompt (the same in every chart and overlay), and the evaluation jobs started from
 * here (they outlive a visit to another view; the PCK table refreshes when one finishes).
 */
import type { ComparePairRow, Heatmap, InvokeArgs, InvokeResult, PairView, PromptSummary, Split } from '../../../../main/contract/index.js';
import { FEATURE_DEFAULTS } from '../../../../main/contract/runs.js';
import { getApi } from '../api.js';
import { seriesColours } from '../components/compare/series-colours.js';
import { handleError } from '../errors.js';
import { SPLIT_LABELS } from '../format.js';
import { jobs } from './jobs.svelte.js';
import { estimates, MemoryEstimator } from './memory.svelte.js';
import { prompts } from './prompts.svelte.js';
import { runs } from './runs.svelte.js';
import { toasts } from './toasts.svelte.js';

export interface FeatureSettings {
  modelId: number | null;
  dinoModelId: number | null;
  /** Images are resized to size x size (768 for SD 2-1). */
  size: number;
  /** Diffusion timestep of the features (50 at inference in the paper). */
  timestep: number;
  /** Noise draws averaged per image (the reference evaluates with 8). */
  ensemble: number;
  seed: number;
  /** SD features (the prompt's), DINOv2 on the SD grid, or both fused (the zero-shot SD+DINOv2 recipe). */
  features: FeatureSource;
  /** SD's share w in SD+DINOv2 (DINOv2 gets 1 - w). */
  fusionWeight: number;
}

export type FeatureSource = 'sd' | 'dino' | 'sd+dino';

export const FEATURE_LABELS: Record<FeatureSource, string> = {
  sd: 'SD',
  dino: 'DINOv2',
  'sd+dino': 'SD+DINOv2',
};

/** The feature choice as requests take it (nothing for SD alone, the engine's default). */
export function featureChoiceArgs(s: Pick<FeatureSettings, 'features' | 'fusionWeight'>): { features?: FeatureSource; fusionWeight?: number } {
  return s.features === 'sd' ? {} : { features: s.features, fusionWeight: s.fusionWeight };
}

/** Whether a prompt under these settings needs the DINOv2 model: CPM, the DINOv2 baseline, or DINOv2 features. */
export function needsDinoWith(s: Pick<FeatureSettings, 'features'>, prompt: { needsDino: boolean } | undefined): boolean {
  return s.features !== 'sd' || !!prompt?.needsDino;
}

export type MatchMethod = 'kernelsoftmax' | 'softmax' | 'nn' | 'bilinear';

/**
 * The feature settings that decide the memory of predictions, heatmaps and evaluations, as the
 * key of their estimate (`compare:estimate`); null without a model.
 */
export function memoryKey(s: FeatureSettings): string | null {
  return s.modelId === null ? null : JSON.stringify({ modelId: s.modelId, size: s.size, ensemble: s.ensemble });
}

export const METHOD_LABELS: Record<MatchMethod, string> = {
  kernelsoftmax: 'kernel soft-argmax',
  softmax: 'soft-argmax',
  nn: 'nearest neighbour',
  bilinear: 'bilinear NN',
};

export const ALPHAS = [0.05, 0.1, 0.15] as const;

const SETTINGS_KEY = 'sd4match.compare.settings';
/** The engine's defaults for these settings (what an evaluation without them would use). */
export const DEFAULT_SETTINGS: FeatureSettings = { modelId: null, dinoModelId: null, ...FEATURE_DEFAULTS, features: 'sd', fusionWeight: 0.5 };

function loadSettings(): FeatureSettings {
  try {
    const raw = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null') as Partial<FeatureSettings> | null;
    return { ...DEFAULT_SETTINGS, ...(raw && typeof raw === 'object' ? raw : {}) };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

/** One evaluation started from Compare. */
export interface EvalJob {
  jobId: string;
  promptId: number;
  datasetId: number;
  split: Split;
}

class CompareState {
  settings = $state<FeatureSettings>(loadSettings());
  /**
   * Colour per prompt id, over every prompt the engine knows: a prompt has one colour whether it
   * is chosen or not, on the pair, in the charts and in the table (components/compare/series-colours).
   */
  readonly colours = $derived(seriesColours(prompts.list.map((p) => p.id)));
  /** Evaluation jobs started here that are still running. */
  evals = $state<EvalJob[]>([]);
  /** Bumped when an evaluation finished: PCK tables and error orderings reload. */
  evalRevision = $state(0);
  /** What the feature settings will need in memory (numbers apply on Enter or blur: a short debounce). */
  readonly memory = new MemoryEstimator(150, estimates.features);

  saveSettings(): void {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
  }

  /** A prompt's colour (one the engine no longer lists still gets its own, from its id). */
  colour(promptId: number): string {
    return this.colours.get(promptId) ?? seriesColours([...this.colours.keys(), promptId]).get(promptId)!;
  }

  evalOf(promptId: number, datasetId: number, split: Split): EvalJob | undefined {
    return this.evals.find((e) => e.promptId === promptId && e.datasetId === datasetId && e.split === split);
  }

  /**
   * A page of a split's pairs (worst first under an evaluation run when one is given); rejects
   * with the engine's error.
   */
  async pairRows(q: { datasetId: number; split: Split; category: string; evalRunId: number | null }, offset: number, limit: number): Promise<{ total: number; items: ComparePairRow[] }> {
    const r = await getApi().invoke('compare:pairs', {
      datasetId: q.datasetId,
      split: q.split,
      ...(q.category ? { category: q.category } : {}),
      ...(q.evalRunId !== null ? { evalRunId: q.evalRunId } : {}),
      offset,
      limit,
    });
    return { total: r.total, items: r.pairs };
  }

  /** A pair to look at (both images' keypoints, its flags). */
  pair(pairId: number): Promise<PairView> {
    return getApi().invoke('compare:pair', { pairId });
  }

  /** The chosen prompts' predictions on a pair. */
  predict(args: InvokeArgs<'compare:predict'>): Promise<InvokeResult<'compare:predict'>> {
    return getApi().invoke('compare:predict', args);
  }

  /** The chosen prompts' similarity maps of a source point over the target. */
  heatmaps(args: InvokeArgs<'compare:heatmap'>): Promise<{ heatmaps: Heatmap[] }> {
    return getApi().invoke('compare:heatmap', args);
  }

  /** Evaluates a prompt on a split as a job; resolves when it finished (toasts say how). */
  async evaluate(prompt: PromptSummary, datasetId: number, split: Split, category?: string): Promise<void> {
    const s = this.settings;
    if (s.modelId === null) {
      toasts.error('Choose a Stable Diffusion model', 'Evaluations compute features with the model chosen in the settings above.');
      return;
    }
    if (this.evalOf(prompt.id, datasetId, split)) return;
    let entry: EvalJob | null = null;
    try {
      const { jobId } = await getApi().invoke('evals:start', {
        modelId: s.modelId,
        ...(needsDinoWith(s, prompt) && s.dinoModelId !== null ? { dinoModelId: s.dinoModelId } : {}),
        ...featureChoiceArgs(s),
        datasetId,
        split,
        promptId: prompt.id,
        size: s.size,
        timestep: s.timestep,
        ensemble: s.ensemble,
        seed: s.seed,
        ...(category ? { category } : {}),
      });
      entry = { jobId, promptId: prompt.id, datasetId, split };
      this.evals = [...this.evals, entry];
      await jobs.result(jobId);
      toasts.success(`Evaluated ${prompt.name}`, `PCK on the ${SPLIT_LABELS[split]} split is in the table.`);
    } catch (err) {
      handleError(err, `Evaluating ${prompt.name}`);
    } finally {
      // by id: the array holds $state proxies of the entries, never the entries themselves
      const done = entry?.jobId;
      if (done) this.evals = this.evals.filter((e) => e.jobId !== done);
      this.evalRevision++;
      void runs.refresh();
    }
  }

  /** Downloads the PCK table as CSV (the engine writes the file's text and name). */
  async exportCsv(datasetId: number, split: Split, method: MatchMethod, alpha: number): Promise<{ csv: string; filename: string } | null> {
    try {
      const r = await getApi().invoke('evals:csv', { datasetId, split, method, alpha });
      const url = URL.createObjectURL(new Blob([r.csv], { type: 'text/csv;charset=utf-8' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = r.filename;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      // the download has started from the URL; let it go after the click has been handled
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return r;
    } catch (err) {
      handleError(err, 'Exporting the PCK table');
      return null;
    }
  }
}

export const compare = new CompareState();

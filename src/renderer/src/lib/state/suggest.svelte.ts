/**
 * Matching-assisted annotation in Annotate: the settings suggestions are computed with (prompt,
 * model, feature settings, exemplars, thresholds; remembered per browser profile / window), the
 * pending suggestions of the image being annotated, the suggestion jobs started from here (one
 * image, or every unannotated image of the category as a batch) and the "label next" queue.
 *
 * Suggestions are never annotations: accepting one is an ordinary save through the Annotator
 * (`Annotator.accept`), so the suggestions drawn are those of schema keypoints the annotation has
 * not labelled, and undoing an acceptance brings its suggestion back.
 */
import type { ImageListItem, PrefetchStatus, PromptSummary, QueueItem, SuggestedKeypoint, SuggestionSet, SuggestQueue } from '../../../../main/contract/index.js';
import type { InvokeArgs, InvokeResult, KeypointValue, SuggestionsChanged } from '../../../../main/contract/index.js';
import { FEATURE_DEFAULTS } from '../../../../main/contract/runs.js';
import { SUGGEST_DEFAULTS } from '../../../../main/contract/suggest.js';
import { ApiError, describeError, getApi } from '../api.js';
import { count } from '../format.js';
import { jobs } from './jobs.svelte.js';
import { models } from './models.svelte.js';
import { prompts } from './prompts.svelte.js';
import { toasts } from './toasts.svelte.js';

export interface SuggestSettings {
  promptId: number | null;
  modelId: number | null;
  dinoModelId: number | null;
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
  /** SD features (the prompt's), DINOv2 on the SD grid, or both fused (the zero-shot SD+DINOv2 recipe). */
  features: 'sd' | 'dino' | 'sd+dino';
  /** SD's share w in SD+DINOv2 (DINOv2 gets 1 - w). */
  fusionWeight: number;
  /** Below it a keypoint is suggested "not visible" (applies to the next suggestion run). */
  visibleThreshold: number;
  /** "Accept all" takes the suggestions from this confidence. */
  acceptThreshold: number;
}

export const DEFAULT_SUGGEST_SETTINGS: SuggestSettings = {
  promptId: null,
  modelId: null,
  dinoModelId: null,
  ...FEATURE_DEFAULTS,
  features: 'sd',
  fusionWeight: 0.5,
  ...SUGGEST_DEFAULTS,
};

const SETTINGS_KEY = 'sd4match.suggest.settings';
const AUTO_KEY = 'sd4match.suggest.auto';
const QUEUE_KEY = 'sd4match.suggest.queue';
/** Suggestions and annotations arrive in bursts (a batch stores one set per image): the queue is asked again once they settle. */
const QUEUE_DEBOUNCE_MS = 700;

function loadSettings(): SuggestSettings {
  try {
    const raw = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null') as Partial<SuggestSettings> | null;
    return { ...DEFAULT_SUGGEST_SETTINGS, ...(raw && typeof raw === 'object' ? raw : {}) };
  } catch {
    return { ...DEFAULT_SUGGEST_SETTINGS };
  }
}

/** One group of the prompt picker. */
export interface PromptGroup {
  title: string;
  items: PromptSummary[];
}

/**
 * The prompts to suggest with, learned ones first: Class prompts trained on this category, then
 * Single and CPM prompts (those of this dataset first), then the baselines (empty, template,
 * DINOv2). Class prompts of other categories are left out: they hold no rows for this one.
 */
export function promptGroups(list: PromptSummary[], category: string, datasetId: number): PromptGroup[] {
  const here = (p: PromptSummary) => (p.datasetId === datasetId ? 0 : 1);
  const byOrigin = (a: PromptSummary, b: PromptSummary) => here(a) - here(b) || b.createdAt - a.createdAt;
  const lower = category.toLowerCase();
  const forCategory = list.filter((p) => p.kind === 'class' && p.categories.some((c) => c.toLowerCase() === lower)).sort(byOrigin);
  const learned = list.filter((p) => p.kind === 'single' || p.kind === 'cpm').sort(byOrigin);
  // the SD baselines (empty prompt, template) as they were created, DINOv2 features last
  const baselines = list.filter((p) => p.kind === 'baseline').sort((a, b) => Number(a.needsDino) - Number(b.needsDino) || a.id - b.id);
  return [
    { title: `Learned for ${category}`, items: forCategory },
    { title: 'Learned (Single, CPM)', items: learned },
    { title: 'Baselines', items: baselines },
  ].filter((g) => g.items.length > 0);
}

/** The suggestions of an image that are still to review: schema keypoints the annotation has not labelled. */
export function pendingOf(set: SuggestionSet | null, labelled: readonly KeypointValue[], schemaSize: number): SuggestedKeypoint[] {
  if (!set) return [];
  const have = new Set(labelled.map((k) => k.kp));
  return set.keypoints.filter((s) => s.kp < schemaSize && !have.has(s.kp));
}

class SuggestState {
  settings = $state<SuggestSettings>(loadSettings());
  /** Suggest on opening an image that has no pending suggestions and unlabelled keypoints. */
  auto = $state(localStorage.getItem(AUTO_KEY) === '1');
  /** The strip follows the "label next" queue. */
  queueOn = $state(localStorage.getItem(QUEUE_KEY) === '1');
  /** A chosen subset of exemplars (null: every labelled image of the category). */
  exemplars = $state<{ categoryId: number; ids: number[] } | null>(null);

  /** The image and category being annotated. */
  image = $state<ImageListItem | null>(null);
  categoryId = $state<number | null>(null);
  /** The open image's pending suggestions (null: none). */
  set = $state<SuggestionSet | null>(null);
  loadingSet = $state(false);

  /** The running one-image suggestion job: its image, and whether opening the image started it. */
  runJob = $state<{ jobId: string; imageId: number; auto: boolean } | null>(null);
  /** The running batch job (every unannotated image of the category). */
  batchJob = $state<{ jobId: string; categoryId: number } | null>(null);
  /** How the last batch ended ("Cancelled after 2 of 5 images"). */
  batchOutcome = $state<string | null>(null);

  queue = $state<SuggestQueue | null>(null);
  /** Background prefetching of the next images' features (the status bar shows it; null: never asked). */
  prefetch = $state<PrefetchStatus | null>(null);
  /** What was last asked to prefetch (the same request is not sent again). */
  private prefetchKey = '';
  /**
   * What went wrong here last (a Suggest, reading suggestions, the queue): shown inside the
   * Suggest panel, not as a toast over it, until dismissed or the next Suggest starts.
   */
  error = $state<{ title: string; message: string } | null>(null);
  private queueTimer: ReturnType<typeof setTimeout> | null = null;
  private queueGeneration = 0;
  private setToken = 0;
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    prompts.start();
    const api = getApi();
    api.on('suggest:changed', (e) => this.changed(e));
    api.on('suggest:prefetch', (s) => (this.prefetch = s));
    // the queue ranks unannotated images: a labelled image leaves it
    api.on('annotation:changed', (e) => {
      if (e.categoryId === this.categoryId) this.scheduleQueue();
    });
  }

  /** Shows a failure in the panel (silent for cancellations, which the user asked for). */
  report(err: unknown, title: string): void {
    const message = describeError(err);
    if (message === null) return;
    if (!(err instanceof ApiError)) console.error(`${title}:`, err);
    this.error = { title, message };
  }

  dismissError(): void {
    this.error = null;
  }

  saveSettings(): void {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
  }

  setAuto(on: boolean): void {
    this.auto = on;
    localStorage.setItem(AUTO_KEY, on ? '1' : '0');
  }

  setQueueOn(on: boolean): void {
    this.queueOn = on;
    localStorage.setItem(QUEUE_KEY, on ? '1' : '0');
    if (on && this.categoryId !== null) void this.loadQueue(this.categoryId);
  }

  /** The exemplar ids chosen for `categoryId` (null: all labelled images). */
  exemplarIds(categoryId: number): number[] | null {
    return this.exemplars && this.exemplars.categoryId === categoryId && this.exemplars.ids.length > 0 ? this.exemplars.ids : null;
  }

  get prompt(): PromptSummary | undefined {
    return this.settings.promptId === null ? undefined : prompts.get(this.settings.promptId);
  }

  /** Why Suggest cannot start now (null: it can). */
  get missing(): string | null {
    const s = this.settings;
    if (s.promptId === null || !this.prompt) return 'Choose a prompt.';
    if (s.modelId === null) return 'Choose a Stable Diffusion model.';
    if (this.prompt.needsDino && s.dinoModelId === null) return `${this.prompt.name} needs a DINOv2 model: register one under Models.`;
    if (s.features !== 'sd' && s.dinoModelId === null) return `${s.features === 'dino' ? 'DINOv2' : 'SD+DINOv2'} features need a DINOv2 model: register one under Models.`;
    if (s.features === 'sd+dino' && this.prompt.baseline === 'dino') return 'SD+DINOv2 takes its SD part from a prompt: choose one other than the DINOv2 baseline.';
    // text prompts need the model's tokenizer (Models says what each model can do)
    const model = models.list.find((m) => m.id === s.modelId);
    const need = this.prompt.baseline === 'empty' ? 'features' : this.prompt.baseline === 'template' ? 'textPrompts' : null;
    const c = need && model?.capabilities ? model.capabilities[need] : null;
    if (c && !c.ok) return `${model!.name} cannot use the ${this.prompt.name}: ${c.reason}. Choose a learned prompt or the DINOv2 baseline.`;
    return null;
  }

  /** The settings part of `suggest:start` and `suggest:eval` (null while something is missing). */
  args(categoryId: number): Omit<InvokeArgs<'suggest:start'>, 'imageIds'> | null {
    const s = this.settings;
    if (this.missing !== null || s.promptId === null || s.modelId === null) return null;
    const exemplarIds = this.exemplarIds(categoryId);
    return {
      categoryId,
      promptId: s.promptId,
      modelId: s.modelId,
      ...((this.prompt?.needsDino || s.features !== 'sd') && s.dinoModelId !== null ? { dinoModelId: s.dinoModelId } : {}),
      ...(s.features !== 'sd' ? { features: s.features, fusionWeight: s.fusionWeight } : {}),
      size: s.size,
      timestep: s.timestep,
      ensemble: s.ensemble,
      seed: s.seed,
      visibleThreshold: s.visibleThreshold,
      ...(exemplarIds ? { exemplarIds } : {}),
    };
  }

  /** The open image changed: its pending suggestions are read; with auto-suggest on, computed when it has none. */
  async show(image: ImageListItem, categoryId: number, unlabelled: boolean): Promise<void> {
    const sameCategory = this.categoryId === categoryId;
    // what auto-suggest started for the image left behind is not waited for
    if (this.runJob?.auto && this.runJob.imageId !== image.id) void jobs.cancel(this.runJob.jobId);
    this.image = image;
    this.categoryId = categoryId;
    if (!sameCategory || !this.queue) void this.loadQueue(categoryId);
    await this.reloadSet();
    if (this.auto && unlabelled && this.set === null && this.image?.id === image.id && this.missing === null && !this.runJob) {
      await this.run([image.id], true);
    }
  }

  /** Forgets the open image (the view closed or the category has no schema); prefetching stops. */
  hide(): void {
    this.setToken++;
    this.image = null;
    this.set = null;
    this.stopPrefetch();
  }

  /**
   * Has the features of the open image and the next ones (in the order they will be opened)
   * computed in the background, so that Suggest on them answers at once. Best effort: a failure is
   * logged, not shown (the user's own Suggest still works and says what is wrong).
   */
  async prefetchAhead(categoryId: number, openImageId: number, nextIds: number[]): Promise<void> {
    const args = this.args(categoryId);
    if (!args) return;
    const key = JSON.stringify([args, openImageId, nextIds]);
    if (key === this.prefetchKey) return;
    this.prefetchKey = key;
    try {
      this.prefetch = await getApi().invoke('suggest:prefetch', { ...args, openImageId, imageIds: nextIds });
    } catch (err) {
      if (this.prefetchKey === key) this.prefetchKey = '';
      console.warn('Prefetching the next images failed:', err);
    }
  }

  /** Stops background prefetching (Annotate closed). */
  stopPrefetch(): void {
    if (this.prefetchKey === '' && (this.prefetch === null || this.prefetch.state === 'off')) return;
    this.prefetchKey = '';
    getApi()
      .invoke('suggest:prefetch-stop', {})
      .then((s) => (this.prefetch = s))
      .catch((err: unknown) => console.warn('Stopping the prefetch failed:', err));
  }

  private async reloadSet(): Promise<void> {
    const image = this.image;
    const categoryId = this.categoryId;
    if (!image || categoryId === null) return;
    const token = ++this.setToken;
    this.loadingSet = true;
    try {
      const set = await getApi().invoke('suggest:get', { imageId: image.id, categoryId });
      if (token === this.setToken) this.set = set;
    } catch (err) {
      if (token === this.setToken) this.report(err, `Reading the suggestions of ${image.path} failed`);
    } finally {
      if (token === this.setToken) this.loadingSet = false;
    }
  }

  private changed(e: SuggestionsChanged): void {
    if (e.categoryId !== this.categoryId) return;
    if (this.image?.id === e.imageId) void this.reloadSet();
    this.scheduleQueue();
  }

  /**
   * Suggests for the given images (the open one) or, without images, for every unannotated image
   * of the category (a batch); resolves when the job has ended (errors are shown, cancellation is
   * silent). A one-image run replaces one still running for another image.
   */
  async run(imageIds?: number[], auto = false): Promise<void> {
    const categoryId = this.categoryId;
    if (categoryId === null) return;
    const args = this.args(categoryId);
    if (!args) {
      this.error = { title: 'Suggest cannot start', message: this.missing ?? 'Choose a prompt and a model.' };
      return;
    }
    const batch = imageIds === undefined;
    if (batch ? this.batchJob : this.runJob?.imageId === imageIds[0]) return;
    // a new try: what failed before is no longer the news
    this.error = null;
    if (!batch && this.runJob) void jobs.cancel(this.runJob.jobId);
    const doing = batch ? 'Suggest all unannotated failed' : `Suggest for ${this.image?.path ?? 'the image'} failed`;
    let jobId: string | null = null;
    try {
      if (batch) this.batchOutcome = null;
      ({ jobId } = await getApi().invoke('suggest:start', { ...args, ...(imageIds ? { imageIds } : {}) }));
      if (batch) this.batchJob = { jobId, categoryId };
      else this.runJob = { jobId, imageId: imageIds[0]!, auto };
      await jobs.result(jobId);
      if (batch) {
        const p = jobs.byId[jobId]?.progress;
        this.batchOutcome = p ? `Suggested for ${count(p.total, 'image')}` : 'Suggested for every unannotated image';
        toasts.success('Suggestions stored', 'Review them image by image: turn on Label next to go through them in order.');
        void this.loadQueue(categoryId);
      }
      await this.reloadSet();
    } catch (err) {
      if (batch && jobId !== null) {
        const info = jobs.byId[jobId];
        const p = info?.progress;
        this.batchOutcome = info?.state === 'cancelled' ? `Cancelled${p ? ` after ${p.done} of ${count(p.total, 'image')}` : ''}` : 'Failed';
        void this.loadQueue(categoryId);
      }
      this.report(err, doing);
    } finally {
      if (batch && this.batchJob?.jobId === jobId) this.batchJob = null;
      if (!batch && this.runJob?.jobId === jobId) this.runJob = null;
    }
  }

  /** Starts measuring suggestion quality on labelled images (a job whose result is the report). */
  evaluate(args: InvokeArgs<'suggest:eval'>): Promise<InvokeResult<'suggest:eval'>> {
    return getApi().invoke('suggest:eval', args);
  }

  async cancel(jobId: string): Promise<void> {
    await jobs.cancel(jobId);
  }

  /** Dismisses the open image's pending suggestions. */
  async clear(): Promise<void> {
    const image = this.image;
    const categoryId = this.categoryId;
    if (!image || categoryId === null) return;
    try {
      await getApi().invoke('suggest:clear', { imageId: image.id, categoryId });
      if (this.image?.id === image.id) this.set = null;
    } catch (err) {
      this.report(err, `Dismissing the suggestions of ${image.path} failed`);
    }
  }

  /** Asks for the queue again once changes have settled. */
  scheduleQueue(): void {
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = setTimeout(() => {
      this.queueTimer = null;
      if (this.categoryId !== null) void this.loadQueue(this.categoryId);
    }, QUEUE_DEBOUNCE_MS);
  }

  async loadQueue(categoryId: number): Promise<void> {
    const gen = ++this.queueGeneration;
    if (this.queue && this.queue.categoryId !== categoryId) this.queue = null;
    try {
      const q = await getApi().invoke('suggest:queue', { categoryId });
      if (gen === this.queueGeneration && categoryId === this.categoryId) this.queue = q;
    } catch (err) {
      if (gen === this.queueGeneration) this.report(err, 'Ranking the images to label next failed');
    }
  }

  /** The queue entries of the category open, in order (empty until known). */
  get items(): QueueItem[] {
    return this.queue && this.queue.categoryId === this.categoryId ? this.queue.items : [];
  }

  /** Where an image is in the queue (-1: not in it). */
  rank(imageId: number): number {
    return this.items.findIndex((q) => q.imageId === imageId);
  }

  /**
   * The image to go to from `imageId` in queue order (`step` +1 next, -1 previous); from an image
   * that left the queue (it was labelled), the first one of the queue. Null at either end.
   */
  step(imageId: number, step: 1 | -1): QueueItem | null {
    const items = this.items;
    const at = this.rank(imageId);
    if (at < 0) return step === 1 ? (items.find((q) => q.imageId !== imageId) ?? null) : null;
    return items[at + step] ?? null;
  }

  /** An image other than the open one has pending suggestions (known for the queue's unannotated images). */
  hasPending(imageId: number): boolean {
    return this.items.some((q) => q.imageId === imageId && q.confidence !== null);
  }
}

export const suggest = new SuggestState();

/**
 * Compare's gallery: images Stable Diffusion generates from the chosen prompts (SD4Match Fig. 4
 * and 5), a row per source and a column per seed. The settings (steps, guidance, size, seeds) and
 * the free-text rows are remembered per browser profile / window; the grid shows what the engine
 * has stored for the current request (`generate:lookup`), fills cells as a generation job stores
 * images (`generate:image`) and asks again when the job ends, so a cancelled job never leaves a
 * cell claiming an image that was not made. The job outlives a visit to another view.
 */
import type { GalleryLookup, GeneratedImage, InvokeArgs } from '../../../../main/contract/index.js';
import { GENERATE_DEFAULTS } from '../../../../main/contract/generate.js';
import { getApi, describeError } from '../api.js';
import { handleError } from '../errors.js';
import { count } from '../format.js';
import { jobs } from './jobs.svelte.js';
import { estimates, MemoryEstimator } from './memory.svelte.js';

export interface GallerySettings {
  steps: number;
  guidance: number;
  /** Image side in pixels; null: the model's own. */
  size: number | null;
  /** The gallery's columns, the same for every row. */
  seeds: number[];
}

export const DEFAULT_GALLERY: GallerySettings = { steps: GENERATE_DEFAULTS.steps, guidance: GENERATE_DEFAULTS.guidance, size: null, seeds: [...GENERATE_DEFAULTS.seeds] };

/** The most rows and columns the engine takes in one request. */
export const MAX_SOURCES = 64;
export const MAX_SEEDS = 16;

const SETTINGS_KEY = 'sd4match.gallery.settings';
const TEXTS_KEY = 'sd4match.gallery.texts';

function load<T>(key: string, fallback: T, valid: (v: unknown) => v is T): T {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(key) ?? 'null');
    return valid(raw) ? raw : fallback;
  } catch {
    return fallback;
  }
}

const isSettings = (v: unknown): v is GallerySettings =>
  !!v && typeof v === 'object' && typeof (v as GallerySettings).steps === 'number' && typeof (v as GallerySettings).guidance === 'number' && Array.isArray((v as GallerySettings).seeds);
const isTexts = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === 'string');

/** A cell's key in `images`: source index and seed. */
export const cellKey = (source: number, seed: number): string => `${source}:${seed}`;

export type LookupPhase = 'idle' | 'loading' | 'ready' | 'error';

/** How the last generation of the shown request ended. */
export interface GalleryOutcome {
  key: string;
  state: 'completed' | 'cancelled' | 'failed' | 'cached';
  message: string;
}

class GalleryState {
  settings = $state<GallerySettings>(load(SETTINGS_KEY, { ...DEFAULT_GALLERY, seeds: [...DEFAULT_GALLERY.seeds] }, isSettings));
  /** Free-text rows, in the order they were added. */
  texts = $state<string[]>(load(TEXTS_KEY, [], isTexts));
  /** What generating at the chosen size will need in memory. */
  readonly memory = new MemoryEstimator(150, estimates.generation);

  /** The request the grid shows, as its JSON (null: nothing to show). */
  key = $state<string | null>(null);
  lookup = $state<GalleryLookup | null>(null);
  phase = $state<LookupPhase>('idle');
  error = $state<string | null>(null);
  /** Stored images of the shown request by cell (`cellKey`). */
  images = $state<Record<string, GeneratedImage>>({});
  /** The generation job started from here that is still running, and the request it is for. */
  job = $state<{ id: string; key: string; queued: number; cached: number } | null>(null);
  outcome = $state<GalleryOutcome | null>(null);
  starting = $state(false);

  private started = false;
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Listens for stored images (once). */
  start(): void {
    if (this.started) return;
    this.started = true;
    getApi().on('generate:image', (img) => this.place(img));
  }

  saveSettings(): void {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
  }

  addText(text: string): void {
    this.texts = [...this.texts, text];
    localStorage.setItem(TEXTS_KEY, JSON.stringify(this.texts));
  }

  removeText(index: number): void {
    this.texts = this.texts.filter((_, i) => i !== index);
    localStorage.setItem(TEXTS_KEY, JSON.stringify(this.texts));
  }

  /**
   * Shows the stored images of the request `key` stands for (debounced; the latest request wins).
   * Safe to call from an effect with the same key again: nothing is asked twice.
   */
  show(key: string | null): void {
    if (key === this.key) return;
    this.key = key;
    this.images = {};
    this.lookup = null;
    this.error = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const seq = ++this.seq;
    if (key === null) {
      this.phase = 'idle';
      return;
    }
    this.phase = 'loading';
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh(seq);
    }, 150);
  }

  /** Asks the engine what is stored for the shown request. */
  private async refresh(seq = this.seq): Promise<void> {
    const key = this.key;
    if (key === null) return;
    try {
      const r = await getApi().invoke('generate:lookup', JSON.parse(key) as InvokeArgs<'generate:lookup'>);
      if (seq !== this.seq) return;
      const images: Record<string, GeneratedImage> = {};
      for (const c of r.cells) if (c.image) images[cellKey(c.source, c.seed)] = c.image;
      this.lookup = r;
      this.images = images;
      this.phase = 'ready';
      this.error = null;
      // a job making these images runs already (started in another window, or before a reload): follow it
      if (r.jobId !== null && this.job === null) void this.follow({ id: r.jobId, key, queued: r.cells.filter((c) => c.pending).length, cached: r.cells.filter((c) => c.image).length });
    } catch (err) {
      if (seq !== this.seq) return;
      this.phase = 'error';
      this.error = describeError(err) ?? 'cancelled';
    }
  }

  /** A stored image goes at once into the cells of the shown request that it is (by cache key). */
  private place(img: GeneratedImage): void {
    for (const c of this.lookup?.cells ?? []) if (c.key === img.key) this.images[cellKey(c.source, c.seed)] = img;
  }

  /** Whether a cell's image is being made by a running job (this window's, or one a lookup reported). */
  pending(source: number, seed: number): boolean {
    if (this.images[cellKey(source, seed)]) return false;
    return this.generatingShown || !!this.lookup?.cells.find((c) => c.source === source && c.seed === seed)?.pending;
  }

  /** Stored cells of the shown request. */
  get stored(): number {
    return Object.keys(this.images).length;
  }

  /** Whether the running job (if any) is generating the shown request. */
  get generatingShown(): boolean {
    return this.job !== null && this.job.key === this.key;
  }

  /**
   * Generates what the shown request lacks as a job and waits for it: stored images fill their
   * cells as they come, and the grid is asked again when the job ends (whatever the outcome).
   */
  async generate(): Promise<void> {
    const key = this.key;
    if (key === null || this.job || this.starting) return;
    const req = JSON.parse(key) as InvokeArgs<'generate:start'>;
    this.starting = true;
    this.outcome = null;
    let started: { id: string; key: string; queued: number; cached: number };
    try {
      const r = await getApi().invoke('generate:start', req);
      if (r.jobId === null) {
        this.outcome = { key, state: 'cached', message: `All ${count(r.cached, 'image')} were stored already: nothing to generate.` };
        if (this.key === key) await this.refresh();
        return;
      }
      started = { id: r.jobId, key, queued: r.queued, cached: r.cached };
    } catch (err) {
      const message = describeError(err);
      if (message !== null) this.outcome = { key, state: 'failed', message };
      handleError(err, 'Generating images');
      return;
    } finally {
      this.starting = false;
    }
    await this.follow(started);
  }

  /**
   * Shows a generation job's progress until it ends, then asks for the grid again and says what a
   * stopped job still made.
   */
  private async follow(started: { id: string; key: string; queued: number; cached: number }): Promise<void> {
    const key = started.key;
    const total = started.queued + started.cached;
    this.job = started;
    try {
      await jobs.result(started.id);
      this.outcome = { key, state: 'completed', message: `Generated ${count(started.queued, 'image')}.` };
    } catch (err) {
      const message = describeError(err);
      this.outcome = { key, state: message === null ? 'cancelled' : 'failed', message: message ?? 'Cancelled' };
      if (message !== null) handleError(err, 'Generating images');
    } finally {
      this.job = null;
    }
    if (this.key !== key) return;
    await this.refresh();
    // say what a stopped job still made (each image is stored when it is done)
    const outcome = this.outcome;
    if (outcome.key === key && outcome.state !== 'completed') {
      const made = Math.max(0, this.stored - started.cached);
      this.outcome = { ...outcome, message: `${outcome.message}: ${made} of ${count(total - started.cached, 'image')} made and kept.` };
    }
  }

  async cancel(): Promise<void> {
    if (this.job) await jobs.cancel(this.job.id);
  }
}

export const gallery = new GalleryState();

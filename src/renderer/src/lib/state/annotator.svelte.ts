/**
 * The annotation session on one image: a working copy of the instance's keypoints that the canvas
 * edits, saved whole after every change (autosave), with undo and redo done by the engine.
 *
 * Undo/redo design: every save is one entry of a per-image history in the store (see
 * src/main/engine/annotations/editor.ts); undo and redo move the store's cursor and return the
 * state to show. So history survives saves, image switches, reloads and restarts, and two
 * windows share it. Saves and undo/redo run strictly in order on one queue, each based on the
 * version the previous one returned; a save the engine refuses because another window changed the
 * image first (CONFLICT) reloads the image instead of overwriting.
 */
import type { AnnotationState, CategoryInfo, ImageListItem, KeypointValue, SuggestedKeypoint } from '../../../../main/contract/index.js';
import { ApiError, getApi } from '../api.js';
import { handleError } from '../errors.js';
import { toasts } from './toasts.svelte.js';

export type SaveStatus = 'idle' | 'saving' | 'saved' | 'error';

/** Keypoints are stored to 1/100 pixel. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}

export class Annotator {
  category = $state<CategoryInfo | null>(null);
  image = $state<ImageListItem | null>(null);
  /** The working copy, sorted by keypoint index. */
  keypoints = $state<KeypointValue[]>([]);
  /** The keypoint that a click places and the keys act on. */
  current = $state(0);
  version = $state(0);
  canUndo = $state(false);
  canRedo = $state(false);
  undoAction = $state<string | null>(null);
  redoAction = $state<string | null>(null);
  status = $state<SaveStatus>('idle');
  loading = $state(false);

  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private stepping = $state(0);
  private loadToken = 0;

  get busy(): boolean {
    return this.queued > 0;
  }

  /** The stored state of another image of the category (copying its keypoints); rejects with the engine's error. */
  async stateOf(imageId: number, categoryId: number): Promise<AnnotationState> {
    return getApi().invoke('annotations:get', { imageId, categoryId });
  }

  /** Shows an image's keypoints (after every pending save has gone out). */
  async open(image: ImageListItem, category: CategoryInfo): Promise<void> {
    const token = ++this.loadToken;
    await this.flush();
    if (token !== this.loadToken) return;
    this.loading = true;
    try {
      const state = await getApi().invoke('annotations:get', { imageId: image.id, categoryId: category.id });
      if (token !== this.loadToken) return;
      this.image = image;
      this.category = category;
      this.apply(state, true);
      this.status = 'idle';
      // start at the first keypoint not placed yet
      const n = category.keypoints.length;
      const missing = Array.from({ length: n }, (_, i) => i).find((i) => !this.keypoints.some((k) => k.kp === i));
      this.current = missing ?? 0;
    } catch (err) {
      handleError(err, `Loading the keypoints of ${image.path}`);
    } finally {
      if (token === this.loadToken) this.loading = false;
    }
  }

  /** Reloads the shown image's state when nothing of ours is pending (another window changed it). */
  async reload(): Promise<void> {
    if (this.queued > 0) return;
    await this.refetch();
  }

  /** Replaces the working copy with the stored state (no queue: callable from inside it). */
  private async refetch(): Promise<void> {
    const image = this.image;
    const category = this.category;
    if (!image || !category) return;
    const state = await getApi().invoke('annotations:get', { imageId: image.id, categoryId: category.id });
    if (this.image?.id === image.id) this.apply(state, true);
  }

  /** Edits wait while an undo or redo is on its way (its answer replaces the working copy). */
  get locked(): boolean {
    return this.stepping > 0 || this.loading || !this.image;
  }

  get(kp: number): KeypointValue | undefined {
    return this.keypoints.find((k) => k.kp === kp);
  }

  name(kp: number): string {
    return this.category?.keypoints[kp]?.name ?? `#${kp + 1}`;
  }

  private clamp(x: number, y: number): [number, number] {
    const w = this.image?.width ?? 0;
    const h = this.image?.height ?? 0;
    return [round(Math.min(Math.max(x, 0), w)), round(Math.min(Math.max(y, 0), h))];
  }

  private set(next: KeypointValue): void {
    this.keypoints = [...this.keypoints.filter((k) => k.kp !== next.kp), next].sort((a, b) => a.kp - b.kp);
  }

  /** Places (or re-places) keypoint `kp` at image coordinates, then makes the next unplaced one current. */
  place(kp: number, x: number, y: number): void {
    if (this.locked) return;
    const [cx, cy] = this.clamp(x, y);
    const existing = this.get(kp);
    this.set({ kp, x: cx, y: cy, visibility: existing?.visibility ?? 2 });
    this.commit(`place ${this.name(kp)}`);
    this.advance(kp);
  }

  /** Makes the next keypoint after `kp` that is not placed yet current (none left: stays). */
  private advance(kp: number): void {
    const n = this.category?.keypoints.length ?? 0;
    for (let step = 1; step <= n; step++) {
      const candidate = (kp + step) % n;
      if (!this.get(candidate)) {
        this.current = candidate;
        return;
      }
    }
  }

  /**
   * Accepts suggestions where they were suggested, visible or not as suggested, as one undo step
   * ('accept suggestion beak', 'accept 5 suggestions'); keypoints labelled meanwhile are kept.
   */
  accept(list: readonly SuggestedKeypoint[]): void {
    if (this.locked) return;
    const fresh = list.filter((s) => !this.get(s.kp));
    if (fresh.length === 0) return;
    for (const s of fresh) this.set(this.fromSuggestion(s));
    this.commit(fresh.length === 1 ? `accept suggestion ${this.name(fresh[0]!.kp)}` : `accept ${fresh.length} suggestions`);
    if (fresh.some((s) => s.kp === this.current)) this.advance(this.current);
  }

  /**
   * Starts dragging a suggestion: it joins the working copy where it was suggested, `moveLive`
   * moves it, and `endAdopt` saves it (accepted as it is, or corrected when it moved). Returns
   * where it starts.
   */
  adopt(s: SuggestedKeypoint): { x: number; y: number } | null {
    if (this.locked || this.get(s.kp)) return null;
    const k = this.fromSuggestion(s);
    this.set(k);
    this.current = s.kp;
    return { x: k.x, y: k.y };
  }

  endAdopt(kp: number, from: { x: number; y: number }): void {
    const k = this.get(kp);
    if (!k) return;
    const moved = k.x !== from.x || k.y !== from.y;
    this.commit(`${moved ? 'correct' : 'accept'} suggestion ${this.name(kp)}`);
    this.advance(kp);
  }

  /** Drops an adopted suggestion that was never saved (the drag was cancelled). */
  abandon(kp: number): void {
    this.keypoints = this.keypoints.filter((k) => k.kp !== kp);
  }

  private fromSuggestion(s: SuggestedKeypoint): KeypointValue {
    const [x, y] = this.clamp(s.x, s.y);
    return { kp: s.kp, x, y, visibility: s.visible ? 2 : 1 };
  }

  /** Moves a keypoint while dragging (saved by `endMove`). */
  moveLive(kp: number, x: number, y: number): void {
    if (this.locked) return;
    const k = this.get(kp);
    if (!k) return;
    const [cx, cy] = this.clamp(x, y);
    this.set({ ...k, x: cx, y: cy });
  }

  /**
   * Ends a drag of `kp` (saved when it moved). A point that moved gives the clicks back: the
   * keypoint current before the drag (`before`) becomes current again, or the next one after it
   * still to place, so the next click on the image places a keypoint instead of moving the dragged
   * one again. A click on a point without moving it keeps it current (for the keys).
   */
  endMove(kp: number, from: { x: number; y: number }, before: number = this.current): void {
    const k = this.get(kp);
    if (!k || (k.x === from.x && k.y === from.y)) return;
    this.commit(`move ${this.name(kp)}`);
    this.current = this.nextToPlace(before) ?? before;
  }

  /** The first keypoint from `start` on (wrapping round) that is not placed yet, or null. */
  private nextToPlace(start: number): number | null {
    const n = this.category?.keypoints.length ?? 0;
    for (let step = 0; step < n; step++) {
      const candidate = (start + step) % n;
      if (!this.get(candidate)) return candidate;
    }
    return null;
  }

  /** Nudges a keypoint by whole pixels (arrow keys). */
  nudge(kp: number, dx: number, dy: number): void {
    if (this.locked) return;
    const k = this.get(kp);
    if (!k) return;
    const [cx, cy] = this.clamp(k.x + dx, k.y + dy);
    if (cx === k.x && cy === k.y) return;
    this.set({ ...k, x: cx, y: cy });
    this.commit(`nudge ${this.name(kp)}`);
  }

  setVisibility(kp: number, visibility: 1 | 2): void {
    if (this.locked) return;
    const k = this.get(kp);
    if (!k || k.visibility === visibility) return;
    this.set({ ...k, visibility });
    this.commit(`mark ${this.name(kp)} ${visibility === 2 ? 'visible' : 'occluded'}`);
  }

  toggleVisibility(kp: number): void {
    const k = this.get(kp);
    if (k) this.setVisibility(kp, k.visibility === 2 ? 1 : 2);
  }

  remove(kp: number): void {
    if (this.locked) return;
    if (!this.get(kp)) return;
    this.keypoints = this.keypoints.filter((k) => k.kp !== kp);
    this.commit(`delete ${this.name(kp)}`);
  }

  /** Replaces every keypoint (copy from the previous image) as one undo step. */
  replaceAll(list: KeypointValue[], action: string): void {
    if (this.locked) return;
    this.keypoints = list.map((k) => {
      const [x, y] = this.clamp(k.x, k.y);
      return { kp: k.kp, x, y, visibility: k.visibility };
    });
    this.commit(action);
  }

  /** Saves the working copy as it is now (also the "retry" after a failed save). */
  commit(action: string): void {
    const image = this.image;
    const category = this.category;
    if (!image || !category) return;
    const snapshot = this.keypoints.map((k) => ({ ...k }));
    this.enqueue(async () => {
      const state = await getApi().invoke('annotations:save', {
        imageId: image.id,
        categoryId: category.id,
        keypoints: snapshot,
        baseVersion: this.version,
        action,
      });
      // later changes are already in the working copy: only the history facts are taken
      if (this.image?.id === image.id) this.apply(state, this.queued === 1);
    }, image.path);
  }

  undo(): void {
    this.step('annotations:undo');
  }

  redo(): void {
    this.step('annotations:redo');
  }

  private step(method: 'annotations:undo' | 'annotations:redo'): void {
    const image = this.image;
    const category = this.category;
    if (!image || !category || this.locked) return;
    this.stepping++;
    this.enqueue(async () => {
      try {
        const state = await getApi().invoke(method, { imageId: image.id, categoryId: category.id, baseVersion: this.version });
        if (this.image?.id === image.id) this.apply(state, true);
      } finally {
        this.stepping--;
      }
    }, image.path);
  }

  /** Resolves when every queued save, undo and redo has been answered. */
  flush(): Promise<void> {
    return this.queue;
  }

  private enqueue(work: () => Promise<void>, path: string): void {
    this.queued++;
    this.status = 'saving';
    this.queue = this.queue.then(async () => {
      try {
        await work();
        if (this.queued === 1) this.status = 'saved';
      } catch (err) {
        if (err instanceof ApiError && err.code === 'CONFLICT') {
          toasts.info('Changed in another window', err.message);
          await this.refetch().catch((e: unknown) => handleError(e, `Reloading ${path}`));
          this.status = 'saved';
        } else {
          this.status = 'error';
          handleError(err, `Saving the keypoints of ${path}`);
        }
      } finally {
        this.queued--;
      }
    });
  }

  private apply(state: AnnotationState, withKeypoints: boolean): void {
    if (withKeypoints) this.keypoints = state.keypoints.map((k) => ({ ...k })).sort((a, b) => a.kp - b.kp);
    this.version = state.version;
    this.canUndo = state.canUndo;
    this.canRedo = state.canRedo;
    this.undoAction = state.undoAction;
    this.redoAction = state.redoAction;
  }
}

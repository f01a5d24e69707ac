/**
 * The datasets the store holds, shared by the Datasets, Annotate and Pairs views. Refreshed when
 * the engine says a dataset changed (an import finished, a schema or the pairs changed, in this
 * window or another).
 */
import type { AddImageCollision, DatasetDetails, DatasetSummary, EventPayload, InvokeArgs, InvokeResult } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';
import { attempt, handleError } from '../errors.js';

/** A file's bytes as base64 (the browser's own encoder: a data URL without its header). */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(new Error(`could not read ${file.name}: ${reader.error?.message ?? 'unknown error'}`));
    reader.readAsDataURL(file);
  });
}

class Datasets {
  list = $state<DatasetSummary[]>([]);
  loaded = $state(false);
  /** Details by dataset id (categories with their schemas and counts). */
  details = $state<Record<number, DatasetDetails>>({});
  /** Per dataset, bumped when its images change (an import): grids and strips reload. */
  imagesRevision = $state<Record<number, number>>({});
  /** Per dataset, bumped when its pairs change (built, moved, deleted, or an import). */
  pairsRevision = $state<Record<number, number>>({});
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    getApi().on('dataset:changed', ({ id, reason }) => {
      if (reason === 'deleted') delete this.details[id];
      void this.refresh();
      if (reason !== 'deleted' && this.details[id]) void this.load(id);
      if (reason === 'imported') this.imagesRevision[id] = (this.imagesRevision[id] ?? 0) + 1;
      if (reason === 'imported' || reason === 'pairs' || reason === 'schema') this.pairsRevision[id] = (this.pairsRevision[id] ?? 0) + 1;
    });
    void this.refresh();
  }

  async refresh(): Promise<void> {
    // attempt never rejects: the list counts as loaded either way
    await attempt('Listing datasets', async () => {
      this.list = await getApi().invoke('datasets:list');
    });
    this.loaded = true;
  }

  /** Loads (or reloads) one dataset's details; null when it does not exist. */
  async load(id: number): Promise<DatasetDetails | null> {
    try {
      const d = await getApi().invoke('datasets:get', { id });
      this.details[id] = d;
      return d;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'NOT_FOUND')) handleError(err, 'Loading the dataset');
      delete this.details[id];
      return null;
    }
  }

  /** Deletes a dataset from the store (its files stay on disk); rejects with the engine's error. */
  async remove(id: number): Promise<void> {
    await getApi().invoke('datasets:delete', { id });
  }

  /** Starts an import (a job whose result is the import report). */
  import(args: InvokeArgs<'datasets:import'>): Promise<InvokeResult<'datasets:import'>> {
    return getApi().invoke('datasets:import', args);
  }

  /**
   * Sends image files the user picked or dropped to be copied into a dataset's folder (a job whose
   * result is an AddImagesReport). The bytes travel over the API as base64, the same way in
   * Electron and in a browser: the renderer never touches the engine's file system.
   */
  async addImages(datasetId: number, files: readonly File[], onCollision: AddImageCollision): Promise<InvokeResult<'datasets:add-images'>> {
    const encoded = await Promise.all(files.map(async (f) => ({ name: f.name, data: await base64Of(f) })));
    return getApi().invoke('datasets:add-images', { datasetId, files: encoded, onCollision });
  }

  /** Writes a dataset's keypoints as a COCO file. */
  /** Writes the dataset in an export format (a file or a folder on the engine's machine); rejects with the engine's error (field 'out'). */
  exportAs(args: InvokeArgs<'datasets:export'>): Promise<InvokeResult<'datasets:export'>> {
    return getApi().invoke('datasets:export', args);
  }

  exportCoco(args: InvokeArgs<'datasets:export-coco'>): Promise<InvokeResult<'datasets:export-coco'>> {
    return getApi().invoke('datasets:export-coco', args);
  }

  /** Replaces a category's keypoint schema (stored keypoints and pairs are renumbered with it). */
  setSchema(args: InvokeArgs<'categories:set-schema'>): Promise<InvokeResult<'categories:set-schema'>> {
    return getApi().invoke('categories:set-schema', args);
  }

  /** Follows annotation changes (this window or another); returns the unsubscribe function. */
  onAnnotationChanged(listener: (e: EventPayload<'annotation:changed'>) => void): () => void {
    return getApi().on('annotation:changed', listener);
  }

  summary(id: number | null): DatasetSummary | undefined {
    return id === null ? undefined : this.list.find((d) => d.id === id);
  }
}

export const datasets = new Datasets();

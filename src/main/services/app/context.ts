/**
 * The application services' shared context: the store, its cache folder and the tensor cache.
 * CLI commands, API handlers and job workers all build on it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { TensorCache } from '../../engine/cache/tensor-cache.js';
import { setProviderChoice } from '../../engine/onnx/providers.js';
import { setProviderProbeCache } from '../../engine/onnx/runtime.js';
import { sweepStaleTempFiles } from '../../engine/cache/temp-files.js';
import { Store } from '../../store/db.js';
import { resolveStoreLocation } from '../../store/paths.js';
import { repos, type Repos } from '../../store/repositories/index.js';
import { recoverRunsOnOpen } from '../runs/lifecycle.js';

export interface Services {
  store: Store;
  cacheDir: string;
  tensors: TensorCache;
  repos: Repos;
  close(): void;
}

/** A dataset's category by name, or an error listing the categories it has. */
export function requireCategory(svc: Services, datasetId: number, datasetName: string, name: string): number {
  const c = svc.repos.datasets.findCategory(datasetId, name);
  if (!c) {
    const names = svc.repos.datasets.categories(datasetId).map((x) => x.name);
    throw new AppError('INVALID_ARGUMENT', `dataset '${datasetName}' has no category '${name}' (it has: ${names.join(', ')})`);
  }
  return c.id;
}

/** A registered model's folder, checked to be of the kind needed and still on disk. */
export function modelFolder(svc: Services, id: number, kind: 'stable-diffusion' | 'dinov2'): string {
  const m = svc.repos.models.get(id);
  if (!m) throw new AppError('NOT_FOUND', `no model with id ${id}`);
  if (m.kind !== kind) throw new AppError('INVALID_ARGUMENT', `model '${m.name}' is a ${m.kind} model; a ${kind} model is needed here`);
  if (!fs.existsSync(m.folder)) throw new AppError('NOT_FOUND', `the folder of model '${m.name}' (${m.folder}) is gone; add it again from where it is now`);
  return m.folder;
}

/**
 * Opens the store and its caches. A job process (`job`) opens a store the process supervising it
 * has already checked: the start-up work (quick_check, a due backup, sweeping orphaned temporary
 * files) is that process's, not done again for every job.
 */
export function openServices(db?: string, opts: { job?: boolean } = {}): Services {
  const loc = resolveStoreLocation(db);
  const store = Store.open(loc.db, { cacheDir: loc.cacheDir, ...(opts.job ? { check: false, backups: false } : {}) });
  // temporary files of writes that a killed process never finished (tensors, images), at most hourly
  if (!opts.job) sweepStaleTempFiles(loc.cacheDir);
  const r = repos(store.db);
  // the machine's provider probe lives with the caches; the store's provider setting is this
  // process's choice unless one was given explicitly (--provider, a job's start message)
  setProviderProbeCache(loc.cacheDir);
  setProviderChoice(r.settings.get().provider, 'settings');
  const tensors = new TensorCache(path.join(loc.cacheDir, 'tensors'), {
    record: (e) => {
      try {
        r.cache.put({ key: e.key, kind: e.kind, path: e.path, bytes: e.bytes, provider: e.provider ?? null });
      } catch {
        // the index is advisory: a locked database must not fail a computation
      }
    },
  });
  // every process that opens the store (the app, `serve`, a CLI command, a job) fails the runs
  // whose process is gone, so none stays queued or running for ever
  recoverRunsOnOpen(store);
  return { store, cacheDir: loc.cacheDir, tensors, repos: r, close: () => store.close() };
}

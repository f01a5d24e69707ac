/**
 * What the suggestion benches that go through the API start from: a workstation database with the
 * bench model registered, the in-memory API, a folder dataset of shifted pairs imported, a schema of
 * `points` keypoints and the first two images labelled (the exemplars).
 */
import path from 'node:path';
import type { ShiftedPair } from '../test/helpers/shifted-pairs.js';

export interface LabelledWorkstation {
  client: import('../src/main/transport/in-memory.js').InMemoryClient;
  /** A call that must succeed. */
  ok<T>(method: string, args?: unknown): Promise<T>;
  /** Waits for a job; its result (throws when it failed). */
  job(jobId: string): Promise<unknown>;
  modelId: number;
  categoryId: number;
  promptId: number;
  /** Image files in pair order (src, trg, src, trg ...); the first two are labelled. */
  files: string[];
  byFile: Map<string, number>;
  close(): Promise<void>;
}

export async function labelledWorkstation(work: string, modelDir: string, root: string, pairs: ShiftedPair[], points: number, pollMs = 20): Promise<LabelledWorkstation> {
  const { createApi } = await import('../src/main/api/handlers.js');
  const { createInMemoryClient } = await import('../src/main/transport/in-memory.js');
  const { Store } = await import('../src/main/store/db.js');
  const { repos } = await import('../src/main/store/repositories/index.js');
  const db = path.join(work, 'ws.db');
  const store = Store.open(db);
  const modelId = repos(store.db).models.upsert({ name: 'bench', kind: 'stable-diffusion', folder: modelDir }).id;
  store.close();
  const api = createApi({ db });
  const client = createInMemoryClient(api);
  const ok = async <T>(m: string, a?: unknown): Promise<T> => {
    const e = await client.invoke(m as never, a as never);
    if ('error' in e) throw new Error(`${m}: ${e.error.message}`);
    return e.result as T;
  };
  const job = async (jobId: string): Promise<unknown> => {
    for (;;) {
      const j = api.context.jobs.get(jobId)!;
      if (j.state === 'failed') throw new Error(`job failed: ${j.error?.message}`);
      if (j.state !== 'running') return j.result;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
  const close = async () => {
    client.close();
    await api.close();
  };
  try {
    const imp = await ok<{ jobId: string }>('datasets:import', { format: 'folder', root });
    await job(imp.jobId);
    const ds = (await ok<{ id: number }[]>('datasets:list'))[0]!;
    const categoryId = (await ok<{ categoryList: { id: number }[] }>('datasets:get', { id: ds.id })).categoryList[0]!.id;
    await ok('categories:set-schema', { categoryId, keypoints: Array.from({ length: points }, (_, i) => ({ name: `kp${i}`, color: '#e6194b' })), skeleton: [] });
    const images = (await ok<{ items: { id: number; path: string }[] }>('images:list', { datasetId: ds.id })).items;
    const byFile = new Map(images.map((i) => [path.join(root, i.path), i.id]));
    const kpsOf = new Map(pairs.flatMap((p) => [[p.src, p.srcKps] as const, [p.trg, p.trgKps] as const]));
    const files = pairs.flatMap((p) => [p.src, p.trg]);
    for (const f of files.slice(0, 2)) {
      await ok('annotations:save', { imageId: byFile.get(f)!, categoryId, keypoints: kpsOf.get(f)!.map(([x, y], kp) => ({ kp, x, y, visibility: 2 })), baseVersion: 0, action: 'label' });
    }
    const promptId = (await ok<{ id: number; name: string }[]>('prompts:list', {})).find((p) => p.name === 'empty prompt')!.id;
    return { client, ok, job, modelId, categoryId, promptId, files, byFile, close };
  } catch (e) {
    await close();
    throw e;
  }
}

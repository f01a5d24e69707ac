/**
 * The `compile` task (job process): compiles a Stable Diffusion folder's SD4Match graphs (folder
 * checks, content hashes, UNet feature graph, text graphs; cached by content hash) and opens a
 * session to learn the provider. Compiled graphs are written to a temporary folder and renamed
 * into the cache, so a stopped compile leaves nothing half-written behind.
 */
import type { TaskContext } from '../../engine/jobs/progress.js';

/** What compiling a Stable Diffusion folder yields. */
export interface CompiledModel {
  key: string;
  dir: string;
  modelHash: string;
  hiddenSize: number;
  /** The execution provider a session on this model got (null if opening one failed). */
  provider: string | null;
}

export async function compileTask(p: { folder: string; cacheDir: string }, task: TaskContext): Promise<CompiledModel> {
  const { SdModel } = await import('../../engine/sd4match/model/sd-model.js');
  const sd = SdModel.open(p.folder, { cacheDir: p.cacheDir, task });
  try {
    const compiled = { key: sd.compiled.key, dir: sd.compiled.dir, modelHash: sd.compiled.modelHash, hiddenSize: sd.folder.hiddenSize };
    task.progress({ stage: 'opening a session', done: 0, total: 1, detail: 'execution provider' });
    const provider = await sd.provider().catch(() => null);
    task.progress({ stage: 'opening a session', done: 1, total: 1 });
    return { ...compiled, provider };
  } finally {
    await sd.dispose();
  }
}

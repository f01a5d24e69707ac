/** Registered model folders (Models view; Runs and Compare read them too). */
import type { InvokeArgs, InvokeResult, ModelInfo } from '../../../../main/contract/index.js';
import { getApi } from '../api.js';
import { attempt } from '../errors.js';
import { jobs } from './jobs.svelte.js';
import { toasts } from './toasts.svelte.js';

class Models {
  list = $state<ModelInfo[]>([]);
  loaded = $state(false);
  /** Compile jobs started from this window, by model id. */
  compiling = $state<Record<number, string>>({});
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    getApi().on('model:changed', () => void this.refresh());
    void this.refresh();
  }

  async refresh(): Promise<void> {
    // attempt never rejects: the list counts as loaded either way
    await attempt('Listing models', async () => {
      this.list = await getApi().invoke('models:list');
    });
    this.loaded = true;
  }

  /** Checks a model folder without registering it. */
  validate(args: InvokeArgs<'models:validate'>): Promise<InvokeResult<'models:validate'>> {
    return getApi().invoke('models:validate', args);
  }

  /** Registers a model folder (or checks a registered one's folder again, with its id). */
  add(args: InvokeArgs<'models:add'>): Promise<InvokeResult<'models:add'>> {
    return getApi().invoke('models:add', args);
  }

  /** Forgets a model (its folder stays on disk). */
  async remove(model: ModelInfo): Promise<void> {
    await getApi().invoke('models:remove', { id: model.id });
  }

  async compile(model: ModelInfo): Promise<void> {
    try {
      await attempt(`Compiling ${model.name}`, async () => {
        const { jobId } = await getApi().invoke('models:compile', { id: model.id });
        this.compiling[model.id] = jobId;
        await jobs.result(jobId);
        toasts.success(`${model.name} compiled`, 'The SD4Match feature and text graphs are cached.');
      });
    } finally {
      delete this.compiling[model.id];
      void this.refresh();
    }
  }
}

export const models = new Models();

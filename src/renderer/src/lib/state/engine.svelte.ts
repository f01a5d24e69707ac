/** What the status bar and Settings show about the engine: versions, provider, database path. */
import type { AppInfo, AppPaths } from '../../../../main/api/contract.js';
import { describeError, getApi } from '../api.js';

class Engine {
  info = $state<AppInfo | null>(null);
  paths = $state<AppPaths | null>(null);
  /** Why the engine could not be reached (null while fine or loading). */
  error = $state<string | null>(null);
  loading = $state(true);

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    const api = getApi();
    try {
      const [info, paths] = await Promise.all([api.invoke('app:info'), api.invoke('app:paths')]);
      this.info = info;
      this.paths = paths;
    } catch (err) {
      this.error = describeError(err) ?? 'Cancelled.';
    } finally {
      this.loading = false;
    }
  }
}

export const engine = new Engine();

/**
 * The backend process this window talks to (the UI calls it "the engine": the API with its jobs,
 * not the src/main/engine library): versions, provider, database path, and the connection to it.
 */
import type { AppInfo, AppPaths } from '../../../../main/contract/index.js';
import { describeError, getApi } from '../api.js';

class Backend {
  info = $state<AppInfo | null>(null);
  paths = $state<AppPaths | null>(null);
  /** Why the engine could not be reached (null while fine or loading). */
  error = $state<string | null>(null);
  loading = $state(true);
  /** Why the engine cannot be reached now, after it could (null while connected). */
  connectionLost = $state<string | null>(null);
  private following = false;
  private readonly reconnectHooks = new Set<() => void>();

  /**
   * Runs `f` whenever the connection comes back after it was lost (the server restarted, the
   * network returned): what the window shows is read again, nothing stays stale.
   */
  onReconnect(f: () => void): () => void {
    this.reconnectHooks.add(f);
    return () => {
      this.reconnectHooks.delete(f);
    };
  }

  private follow(): void {
    if (this.following) return;
    this.following = true;
    getApi().onConnection((lost) => {
      const back = this.connectionLost !== null && lost === null;
      this.connectionLost = lost;
      if (!back) return;
      void this.load();
      for (const f of this.reconnectHooks) f();
    });
  }

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    const api = getApi();
    try {
      const [info, paths] = await Promise.all([api.invoke('app:info'), api.invoke('app:paths')]);
      this.info = info;
      this.paths = paths;
      this.follow();
    } catch (err) {
      this.error = describeError(err) ?? 'Cancelled.';
    } finally {
      this.loading = false;
    }
  }
}

export const backend = new Backend();

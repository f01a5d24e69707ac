/**
 * Jobs of the engine (imports, compiles, pair builds, runs): the status bar lists them, views wait
 * for the ones they started. Kept current by `job:updated` events; a job that finished before its
 * starter began waiting is still found here.
 */
import type { JobInfo } from '../../../../main/contract/index.js';
import { ApiError, getApi } from '../api.js';
import { attempt, handleError } from '../errors.js';
import { backend } from './backend.svelte.js';

type Waiter = (info: JobInfo) => void;

class Jobs {
  byId = $state<Record<string, JobInfo>>({});
  /** Finished jobs the user cleared from the list. */
  dismissed = $state<Record<string, true>>({});
  private readonly waiters = new Map<string, Waiter[]>();
  private started = false;

  /** Newest first. */
  get list(): JobInfo[] {
    return Object.values(this.byId)
      .filter((j) => !this.dismissed[j.id])
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  get running(): JobInfo[] {
    return this.list.filter((j) => j.state === 'running');
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const api = getApi();
    api.on('job:updated', (info) => this.update(info));
    void this.relist(false);
    // the engine came back (a restarted server has none of the old jobs): they ended with it
    backend.onReconnect(() => void this.relist(true));
  }

  private async relist(afterLoss: boolean): Promise<void> {
    let list: JobInfo[];
    try {
      list = await getApi().invoke('jobs:list');
    } catch (err) {
      handleError(err, 'Listing jobs');
      return;
    }
    for (const info of list) if (!this.byId[info.id] || this.byId[info.id]!.state === 'running') this.update(info);
    if (!afterLoss) return;
    const known = new Set(list.map((j) => j.id));
    for (const j of Object.values(this.byId)) {
      if (j && j.state === 'running' && !known.has(j.id)) {
        this.update({ ...j, state: 'failed', finishedAt: Date.now(), error: { code: 'PROCESS_GONE', message: 'the engine stopped while this job ran (its runs show how to go on)' } });
      }
    }
  }

  private update(info: JobInfo): void {
    this.byId[info.id] = info;
    if (info.state !== 'running') {
      for (const w of this.waiters.get(info.id) ?? []) w(info);
      this.waiters.delete(info.id);
    }
  }

  /** Resolves when the job has finished (whatever the outcome). */
  finished(id: string): Promise<JobInfo> {
    const known = this.byId[id];
    if (known && known.state !== 'running') return Promise.resolve(known);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /**
   * Resolves with the job's result when it completes; rejects with the job's error (an ApiError,
   * CANCELLED when cancelled) otherwise.
   */
  async result<T>(id: string): Promise<T> {
    const info = await this.finished(id);
    if (info.state === 'completed') return info.result as T;
    const err = info.error ?? { code: 'INTERNAL' as const, message: `${info.title} ${info.state}` };
    throw new ApiError(err.code, err.message, undefined, err.field);
  }

  async cancel(id: string): Promise<void> {
    await attempt('Cancelling the job', () => getApi().invoke('jobs:cancel', { id }));
  }

  dismiss(id: string): void {
    this.dismissed[id] = true;
  }

  clearFinished(): void {
    for (const j of this.list) if (j.state !== 'running') this.dismissed[j.id] = true;
  }
}

export const jobs = new Jobs();

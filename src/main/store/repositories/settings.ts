/**
 * The engine's settings (schema 7's `settings` table): what every window and job of this store
 * shares, as opposed to a window's own preferences (theme, last view), which the renderer keeps.
 * The first is the execution provider work started from the app uses.
 */
import { type ProviderChoice, isProviderChoice } from '../../engine/onnx/providers.js';
import { type Db, now, prepareCached } from '../db.js';

export interface EngineSettings {
  /** The execution provider for work started from the app: `auto` or a provider by name. */
  provider: ProviderChoice;
}

export const DEFAULT_SETTINGS: EngineSettings = { provider: 'auto' };

export class SettingsRepo {
  constructor(private readonly db: Db) {}

  /** Every setting, defaults where unset (or where a stored value is no longer understood). */
  get(): EngineSettings {
    const rows = prepareCached(this.db, 'SELECT key, value FROM settings').all() as { key: string; value: string }[];
    const stored = Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
    return { provider: isProviderChoice(stored.provider) ? stored.provider : DEFAULT_SETTINGS.provider };
  }

  /** Stores the settings given (the others stay), returns them all. */
  set(changes: Partial<EngineSettings>): EngineSettings {
    const t = now();
    const put = prepareCached(this.db, 'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    for (const [k, v] of Object.entries(changes)) if (v !== undefined) put.run(k, JSON.stringify(v), t);
    return this.get();
  }
}

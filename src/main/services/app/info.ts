/** Use cases of the app domain. */
import { providerChoiceSource, setProviderChoice } from '../../engine/onnx/providers.js';
import { probeProvider, runtimeInfo, setProviderProbeCache } from '../../engine/onnx/runtime.js';
import { resolveStoreLocation } from '../../store/paths.js';
import { ENGINE_VERSION } from '../../shared/version.js';
import type { AppInfo, AppPaths, EngineSettings } from '../../contract/index.js';
import type { AppContext } from './app.js';

export async function appInfo(ctx: AppContext): Promise<AppInfo> {
  const runtime = runtimeInfo();
  try {
    // the store's provider setting, and the cache folder that keeps the machine's provider probe
    ctx.services();
  } catch {
    // a store that cannot open says so elsewhere; the runtime facts still come back
    setProviderProbeCache(resolveStoreLocation(ctx.options.db).cacheDir);
  }
  const s = await probeProvider();
  return {
    engineVersion: ENGINE_VERSION,
    ortVersion: runtime.ortVersion,
    platform: runtime.platform,
    provider: s.provider,
    providerAttempts: s.attempts.map((a) => (a.reason === undefined ? { provider: a.provider, ok: a.ok } : { provider: a.provider, ok: a.ok, reason: a.reason })),
    requestedProvider: s.requested,
    requestedBy: providerChoiceSource(),
    providerNote: s.note,
    ...(s.adapter ? { adapter: s.adapter } : {}),
    ...(s.error ? { providerError: s.error } : {}),
  };
}

export async function appSettings(ctx: AppContext): Promise<EngineSettings> {
  return ctx.services().repos.settings.get();
}

/**
 * Stores settings. A new provider is this engine's choice from now on (unless it was started with
 * `--provider`) and the Compare process, which keeps its sessions, restarts on its next request.
 */
export async function setAppSettings(ctx: AppContext, changes: Partial<EngineSettings>): Promise<EngineSettings> {
  const svc = ctx.services();
  const before = svc.repos.settings.get();
  const after = await svc.store.write(() => svc.repos.settings.set(changes));
  if (after.provider !== before.provider) {
    setProviderChoice(after.provider, 'settings');
    await ctx.inference().close();
  }
  return after;
}

export async function appPaths(ctx: AppContext): Promise<AppPaths> {
  // the store the handlers open: the same resolution as openServices
  const loc = resolveStoreLocation(ctx.options.db);
  return { database: loc.db, cacheDir: loc.cacheDir, source: loc.source };
}

/** Use cases of the app domain. */
import { probeProvider, runtimeInfo } from '../engine/onnx/runtime.js';
import { resolveStoreLocation } from '../store/paths.js';
import { ENGINE_VERSION } from '../shared/version.js';
import type { AppInfo, AppPaths } from '../api/contract.js';
import type { AppContext } from './app.js';

export async function appInfo(_ctx: AppContext): Promise<AppInfo> {
    const runtime = runtimeInfo();
    const { provider, attempts } = await probeProvider();
    return {
      engineVersion: ENGINE_VERSION,
      ortVersion: runtime.ortVersion,
      platform: runtime.platform,
      provider,
      providerAttempts: attempts.map((a) => (a.reason === undefined ? { provider: a.provider, ok: a.ok } : { provider: a.provider, ok: a.ok, reason: a.reason })),
    };
  }

export async function appPaths(ctx: AppContext): Promise<AppPaths> {
    // the store the handlers open: the same resolution as openServices
    const loc = resolveStoreLocation(ctx.options.db);
    return { database: loc.db, cacheDir: loc.cacheDir, source: loc.source };
  }

/** Handlers of the app domain. */
import { probeProvider, runtimeInfo } from '../../engine/onnx/runtime.js';
import { ENGINE_VERSION } from '../../version.js';
import type { AppInfo } from '../contract.js';
import type { DomainHandlers } from '../handlers.js';

export const appHandlers: DomainHandlers<'app:info'> = {
  'app:info': async (): Promise<AppInfo> => {
    const runtime = runtimeInfo();
    const { provider, attempts } = await probeProvider();
    return {
      engineVersion: ENGINE_VERSION,
      ortVersion: runtime.ortVersion,
      platform: runtime.platform,
      provider,
      providerAttempts: attempts.map((a) => (a.reason === undefined ? { provider: a.provider, ok: a.ok } : { provider: a.provider, ok: a.ok, reason: a.reason })),
    };
  },
};

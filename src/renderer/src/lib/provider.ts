import type { AppInfo } from '../../../main/contract/index.js';

export interface ProviderLabel {
  /** The provider in use, e.g. `cpu`. */
  name: string;
  /** Why faster providers were not used, e.g. `cuda: provider libraries are not installed`; empty if none failed. */
  note: string;
}

/** `cuda: cuda provider libraries…` reads better as `cuda: provider libraries…`. */
function reasonWithoutName(provider: string, reason: string | undefined): string {
  if (!reason) return 'unavailable';
  return reason.toLowerCase().startsWith(`${provider.toLowerCase()} `) ? reason.slice(provider.length + 1) : reason;
}

/** Describes the execution provider in use and why any faster one was passed over. */
export function providerLabel(info: Pick<AppInfo, 'provider' | 'providerAttempts'>): ProviderLabel {
  const failed = info.providerAttempts.filter((a) => !a.ok && a.provider !== info.provider);
  const note = failed.map((a) => `${a.provider}: ${reasonWithoutName(a.provider, a.reason)}`).join('; ');
  return { name: info.provider, note };
}

/** One line, e.g. `cpu (cuda: provider libraries are not installed)`. */
export function providerText(info: Pick<AppInfo, 'provider' | 'providerAttempts'>): string {
  const { name, note } = providerLabel(info);
  return note ? `${name} (${note})` : name;
}

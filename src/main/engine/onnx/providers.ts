/**
 * The execution-provider vocabulary: the providers the engine knows, what a user may ask for
 * (`auto` or one provider by name), and this process's choice. Pure (no Node API, no native
 * module): the contract, and through it the renderer, load it for the Settings and run-form
 * selects. Which providers work on this machine is provider-probe.ts's business; sessions are
 * runtime.ts's.
 */
import { AppError } from '../../shared/errors.js';

/** Every execution provider the engine can use, fastest first where several apply (CPU always works). */
export const PROVIDER_NAMES = ['tensorrt', 'cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;

export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** What a user may ask for: `auto` (the fastest hardware provider that works here) or one by name. */
export const PROVIDER_CHOICES = ['auto', 'cpu', 'webgpu', 'cuda', 'tensorrt', 'dml', 'coreml'] as const;

export type ProviderChoice = (typeof PROVIDER_CHOICES)[number];

export function isProviderChoice(value: unknown): value is ProviderChoice {
  return typeof value === 'string' && (PROVIDER_CHOICES as readonly string[]).includes(value);
}

/**
 * A provider choice from user input (`--provider`, SD4MATCH_PROVIDER, a stored setting); `where`
 * names the source in the error.
 */
export function parseProviderChoice(value: string, where: string): ProviderChoice {
  const v = value.trim().toLowerCase();
  if (isProviderChoice(v)) return v;
  throw new AppError('INVALID_ARGUMENT', `unknown execution provider '${value}' in ${where}; expected one of: ${PROVIDER_CHOICES.join(', ')}`);
}

/** Where this process's provider choice came from (an explicit one is not replaced by a stored setting). */
export type ProviderChoiceSource = 'default' | 'settings' | 'option';

let current: { choice: ProviderChoice; source: ProviderChoiceSource } = { choice: 'auto', source: 'default' };

/**
 * Sets the provider that sessions of this process use when their caller names none: the CLI's
 * `--provider` ('option'), the store's Settings in the app ('settings'), a job process's start
 * message ('option'). A stored setting never replaces an explicit option.
 */
export function setProviderChoice(choice: ProviderChoice, source: ProviderChoiceSource): void {
  if (source === 'settings' && current.source === 'option') return;
  current = { choice, source };
}

/** This process's provider choice (`auto` unless set). */
export function providerChoice(): ProviderChoice {
  return current.choice;
}

/** Where this process's provider choice came from. */
export function providerChoiceSource(): ProviderChoiceSource {
  return current.source;
}

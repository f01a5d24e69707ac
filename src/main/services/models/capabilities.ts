/**
 * What a model can do, checked where a use case needs it: a registered model's capabilities as
 * its folder is now, and refusals (naming the missing part) of what a model or folder cannot do.
 * Free of the application context: job-process bodies check with their own services.
 */
import fs from 'node:fs';
import path from 'node:path';
import { capabilityForPrompt, goneCapabilities, probeSdParts, requireCapability, sdCapabilities } from '../../engine/models/capabilities.js';
import type { CapabilityName } from '../../engine/models/facts.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { ModelRecord } from '../../store/repositories/models.js';
import type { ModelCapabilities } from '../../contract/index.js';
import { AppError } from '../../shared/errors.js';
import type { Services } from '../app/context.js';

/** What a registered model can do as its folder is now (null for DINOv2). */
export function capabilitiesOf(m: ModelRecord, dinoRegistered: boolean): ModelCapabilities | null {
  if (m.kind !== 'stable-diffusion') return null;
  if (!fs.existsSync(m.folder)) return goneCapabilities(m.folder);
  return sdCapabilities(probeSdParts(m.folder), { registered: dinoRegistered });
}

/** Whether a DINOv2 model is registered (CPM prompts and the DINOv2 baseline need one). */
export function hasDino(models: ModelRecord[]): boolean {
  return models.some((m) => m.kind === 'dinov2');
}

/**
 * Refuses (INVALID_ARGUMENT, with the reason naming the missing part) what the registered Stable
 * Diffusion model `modelId` cannot do.
 */
export function requireModelCan(svc: Services, modelId: number, cap: CapabilityName): void {
  const models = svc.repos.models.list();
  const m = models.find((x) => x.id === modelId);
  if (!m) throw new AppError('NOT_FOUND', `no model with id ${modelId}`);
  const caps = capabilitiesOf(m, hasDino(models));
  if (caps) requireCapability(caps, cap, `model '${m.name}'`);
}

/**
 * Refuses what the Stable Diffusion folder `dir` cannot do (a registered folder is named by its
 * model's name; the CLI's folders by their path).
 */
export function requireFolderCan(svc: Services, dir: string, cap: CapabilityName): void {
  const models = svc.repos.models.list();
  const m = models.find((x) => x.folder === path.resolve(dir));
  if (m) return requireModelCan(svc, m.id, cap);
  requireCapability(fs.existsSync(dir) ? sdCapabilities(probeSdParts(dir), { registered: hasDino(models) }) : goneCapabilities(dir), cap, `model folder ${dir}`);
}

/** Refuses a prompt the Stable Diffusion folder `dir` cannot compute (text prompts without a tokenizer). */
export function requirePromptSupported(svc: Services, dir: string, spec: PromptSpec): void {
  const cap = capabilityForPrompt(spec);
  if (cap) requireFolderCan(svc, dir, cap);
}

/**
 * The models domain: Stable Diffusion and DINOv2 folders the workstation knows (stored in the
 * models table, so Runs and Compare can list them), their validation report, and compiling a
 * Stable Diffusion folder's SD4Match graphs as a job.
 */
import { z } from 'zod';
import { method, noArgs, pathText } from './spec.js';

export { MODEL_KINDS, type Capability, type CapabilityName, type ModelCapabilities, type ModelFacts, type ModelKind, type ModelValidation } from '../engine/models/facts.js';
import { MODEL_KINDS, type ModelCapabilities, type ModelFacts, type ModelKind, type ModelValidation } from '../engine/models/facts.js';

export interface ModelInfo {
  id: number;
  name: string;
  kind: ModelKind;
  folder: string;
  /** The folder is still there (a moved or unmounted folder shows as missing). */
  folderExists: boolean;
  facts: ModelFacts;
  warnings: string[];
  /**
   * What the folder can do as it is now (Stable Diffusion only; null for DINOv2), each with the
   * reason when not: the server refuses those actions with the same reason.
   */
  capabilities: ModelCapabilities | null;
  /** The compiled SD4Match graphs (Stable Diffusion only): cache key, and whether they are on disk. */
  compiled: { key: string; present: boolean } | null;
  /** The execution provider recorded when the model was last compiled or used. */
  provider: string | null;
  validatedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

const kind = z.enum(MODEL_KINDS);
const folder = pathText('a folder');
const id = z.number().int().positive();

export const modelMethods = {
  /** Every registered model folder, by name. */
  'models:list': method<ModelInfo[]>()(noArgs),
  /** Checks a folder without registering it (files present, input/output names, dtypes, dimensions). */
  'models:validate': method<ModelValidation>()(z.object({ kind, folder }).strict()),
  /**
   * Validates a folder and registers it when it is usable; `model` is null and nothing is stored
   * when validation found problems. With `id` (Check again), that model is updated in place: its
   * name, and its folder if it moved. Re-adding a registered folder updates its model too;
   * `updated` says which happened. A name given replaces the model's; none keeps it.
   */
  'models:add': method<{ model: ModelInfo | null; validation: ModelValidation; updated: boolean }>()(
    z.object({ kind, folder, name: z.string().trim().min(1, 'the name is empty').max(100).optional(), id: id.optional() }).strict(),
  ),
  /** Compiles a Stable Diffusion model's graphs (cached by content hash) as a job. */
  'models:compile': method<{ jobId: string }>()(z.object({ id }).strict()),
  /** Forgets a model folder (files stay on disk; runs keep their records). */
  'models:remove': method<{ removed: boolean }>()(z.object({ id }).strict()),
} as const;

export interface ModelChanged {
  id: number;
  reason: 'added' | 'updated' | 'compiled' | 'removed';
}

export interface ModelEvents {
  /** A model was added, re-validated, compiled or removed (any window may have done it). */
  'model:changed': ModelChanged;
}

export const MODEL_EVENTS: readonly (keyof ModelEvents)[] = ['model:changed'];

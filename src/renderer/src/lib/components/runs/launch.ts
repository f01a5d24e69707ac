/**
 * Checks the launch form before anything is sent: the same bounds as the engine's schema
 * (contract/runs.ts `trainLaunchSchema`), plus what only the chosen dataset can tell (enough
 * training pairs for the batch, validation pairs when validating), each message next to its field.
 * Also the form's draft and the paper's defaults it starts from, and what of it decides the run's
 * memory (the form asks the engine for an estimate whenever that changes).
 */
import type { CategoryInfo, DatasetDetails, ModelInfo, TrainEstimate, TrainLaunch } from '../../../../../main/api/contract.js';

export type PromptKindChoice = 'single' | 'class' | 'cpm';
export type ScheduleChoice = 'constant' | 'linear' | 'cosine';

/** The launch form as typed (numbers stay text until validated). */
export interface LaunchDraft {
  modelId: number | null;
  dinoModelId: number | null;
  datasetId: number | null;
  prompt: PromptKindChoice;
  /** '' trains on every category. */
  category: string;
  steps: string;
  batch: string;
  lr: string;
  schedule: ScheduleChoice;
  accumulate: string;
  timestep: string;
  size: string;
  valEvery: string;
  valPairs: string;
  checkpointEvery: string;
  seed: string;
  name: string;
}

/** SD4Match's training settings (paper §4 / DESIGN.md): Adam at 1e-2, batch 9, t = 261, 768 px, 30k steps. */
export const PAPER_DEFAULTS = {
  steps: '30000',
  batch: '9',
  lr: '0.01',
  schedule: 'constant',
  accumulate: '1',
  timestep: '261',
  size: '768',
  valEvery: '1000',
  valPairs: '200',
  checkpointEvery: '500',
  seed: '0',
} as const satisfies Partial<Record<keyof LaunchDraft, string>>;

export function defaultDraft(): LaunchDraft {
  return { modelId: null, dinoModelId: null, datasetId: null, prompt: 'single', category: '', name: '', ...PAPER_DEFAULTS };
}

export type LaunchField = keyof LaunchDraft;

export interface LaunchCheck {
  args: TrainLaunch | null;
  errors: Partial<Record<LaunchField, string>>;
  /** Worth knowing, not blocking (e.g. fewer validation pairs than asked for). */
  notes: Partial<Record<LaunchField, string>>;
}

interface Context {
  models: ModelInfo[];
  dataset: DatasetDetails | undefined;
}

function int(text: string): number | null {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : null;
}

function real(text: string): number | null {
  const t = text.trim();
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/** Training pairs (and validation pairs) the run would use: the category's, or the dataset's. */
export function pairCounts(dataset: DatasetDetails | undefined, category: string): { trn: number; val: number } | null {
  if (!dataset) return null;
  if (!category) return { trn: dataset.pairsBySplit.trn, val: dataset.pairsBySplit.val };
  const c: CategoryInfo | undefined = dataset.categoryList.find((x) => x.name === category);
  return c ? { trn: c.pairs.trn, val: c.pairs.val } : { trn: 0, val: 0 };
}

export function checkLaunch(d: LaunchDraft, ctx: Context): LaunchCheck {
  const errors: LaunchCheck['errors'] = {};
  const notes: LaunchCheck['notes'] = {};
  const ranged = (field: LaunchField, text: string, min: number, max: number, what: string): number | null => {
    const v = int(text);
    if (v === null || v < min || v > max) {
      errors[field] = `${what}: a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}.`;
      return null;
    }
    return v;
  };

  const sd = ctx.models.find((m) => m.id === d.modelId && m.kind === 'stable-diffusion');
  if (!sd) errors.modelId = 'Choose a Stable Diffusion model (register one under Models).';
  else if (!sd.folderExists) errors.modelId = `The folder of ${sd.name} is missing: ${sd.folder}`;
  if (d.prompt === 'cpm') {
    const dino = ctx.models.find((m) => m.id === d.dinoModelId && m.kind === 'dinov2');
    if (!dino) errors.dinoModelId = ctx.models.some((m) => m.kind === 'dinov2') ? 'CPM needs a DINOv2 model: choose one.' : 'CPM needs a DINOv2 model: register one under Models first.';
  }
  if (d.datasetId === null || !ctx.dataset) errors.datasetId = 'Choose a dataset.';

  const steps = ranged('steps', d.steps, 1, 1_000_000, 'Steps');
  const batch = ranged('batch', d.batch, 1, 64, 'Batch');
  const accumulate = ranged('accumulate', d.accumulate, 1, 64, 'Accumulation');
  const timestep = ranged('timestep', d.timestep, 0, 999, 'Timestep');
  const valEvery = ranged('valEvery', d.valEvery, 0, 1_000_000, 'Validation interval');
  const valPairs = ranged('valPairs', d.valPairs, 0, 1_000_000, 'Validation pairs');
  const checkpointEvery = ranged('checkpointEvery', d.checkpointEvery, 1, 1_000_000, 'Checkpoint interval');
  const seed = ranged('seed', d.seed, 0, 2 ** 31 - 1, 'Seed');
  let size = int(d.size);
  if (size === null || size < 64 || size > 2048 || size % 64 !== 0) {
    errors.size = 'Image size: a multiple of 64 from 64 to 2048 (768 for SD 2-1).';
    size = null;
  }
  const lr = real(d.lr);
  if (lr === null || lr <= 0 || lr > 10) errors.lr = 'Learning rate: a positive number up to 10 (the paper uses 0.01).';
  if (d.name.length > 200) errors.name = 'At most 200 characters.';

  const counts = pairCounts(ctx.dataset, d.category);
  if (counts && ctx.dataset) {
    const where = d.category ? `category ${d.category} of ${ctx.dataset.name}` : ctx.dataset.name;
    if (counts.trn === 0) errors.datasetId = `${where} has no training (trn) pairs.`;
    else if (batch !== null && batch > counts.trn) errors.batch = `Larger than the ${counts.trn} training pairs of ${where}.`;
    if (valEvery !== null && valEvery > 0 && counts.val === 0) notes.valEvery = `${where} has no validation pairs: no validation will run (best-prompt selection needs it).`;
    else if (valPairs !== null && valPairs > counts.val && valEvery !== null && valEvery > 0) notes.valPairs = `Only ${counts.val} validation pairs: all of them are used.`;
  }
  if (checkpointEvery !== null && steps !== null && checkpointEvery > steps) notes.checkpointEvery = 'Longer than the run: only the final state is checkpointed.';

  if (Object.keys(errors).length > 0) return { args: null, errors, notes };
  const args: TrainLaunch = {
    modelId: d.modelId!,
    ...(d.prompt === 'cpm' && d.dinoModelId !== null ? { dinoModelId: d.dinoModelId } : {}),
    datasetId: d.datasetId!,
    prompt: d.prompt,
    ...(d.category ? { category: d.category } : {}),
    steps: steps!,
    batch: batch!,
    lr: lr!,
    schedule: d.schedule,
    accumulate: accumulate!,
    timestep: timestep!,
    size: size!,
    valEvery: valEvery!,
    valPairs: valPairs!,
    checkpointEvery: checkpointEvery!,
    seed: seed!,
    ...(d.name.trim() ? { name: d.name.trim() } : {}),
  };
  return { args, errors, notes };
}

/** The fields that decide a run's memory (`runs:estimate`). */
const MEMORY_FIELDS = ['modelId', 'dinoModelId', 'datasetId', 'category', 'batch', 'accumulate', 'size'] as const satisfies readonly LaunchField[];

/**
 * What to ask `runs:estimate` about the draft: its memory fields once they are valid (whatever
 * the others say), else null.
 */
export function estimateArgs(d: LaunchDraft, c: LaunchCheck): TrainEstimate | null {
  if (MEMORY_FIELDS.some((f) => c.errors[f] !== undefined)) return null;
  const batch = int(d.batch);
  const accumulate = int(d.accumulate);
  const size = int(d.size);
  if (d.modelId === null || d.datasetId === null || batch === null || accumulate === null || size === null) return null;
  return {
    modelId: d.modelId,
    ...(d.prompt === 'cpm' && d.dinoModelId !== null ? { dinoModelId: d.dinoModelId } : {}),
    datasetId: d.datasetId,
    prompt: d.prompt,
    ...(d.category ? { category: d.category } : {}),
    batch,
    accumulate,
    size,
  };
}

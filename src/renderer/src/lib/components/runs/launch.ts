/**
 * Checks the launch form before anything is sent: with the engine's own schema (contract/runs.ts
 * `trainLaunchSchema`, imported at run time, so its bounds cannot drift from the server's), plus
 * what only the chosen dataset can tell (enough training pairs for the batch, validation pairs when
 * validating), each message next to its field. Also the form's draft and the paper's defaults it
 * starts from (`TRAIN_DEFAULTS`, the engine's), and what of it decides the run's memory (the form
 * asks the engine for an estimate whenever that changes).
 */
import { z } from 'zod';
import type { CategoryInfo, DatasetDetails, ModelInfo, TrainEstimate, TrainLaunch } from '../../../../../main/contract/index.js';
import { PROVIDER_CHOICES, type ProviderChoice } from '../../../../../main/contract/app.js';
import { TRAIN_DEFAULTS, trainLaunchSchema } from '../../../../../main/contract/runs.js';

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
  /** The execution provider for the run; '' leaves it to the engine's setting (Settings). */
  provider: '' | ProviderChoice;
}

/** The draft's hyperparameters. */
type NumberField = 'steps' | 'batch' | 'lr' | 'accumulate' | 'timestep' | 'size' | 'valEvery' | 'valPairs' | 'checkpointEvery' | 'seed';

/** SD4Match's training settings as the form shows them: the engine's `TRAIN_DEFAULTS`, as text. */
export const PAPER_DEFAULTS: Readonly<Pick<LaunchDraft, NumberField | 'schedule'>> = {
  steps: String(TRAIN_DEFAULTS.steps),
  batch: String(TRAIN_DEFAULTS.batch),
  lr: String(TRAIN_DEFAULTS.lr),
  schedule: TRAIN_DEFAULTS.schedule,
  accumulate: String(TRAIN_DEFAULTS.accumulate),
  timestep: String(TRAIN_DEFAULTS.timestep),
  size: String(TRAIN_DEFAULTS.size),
  valEvery: String(TRAIN_DEFAULTS.valEvery),
  valPairs: String(TRAIN_DEFAULTS.valPairs),
  checkpointEvery: String(TRAIN_DEFAULTS.checkpointEvery),
  seed: String(TRAIN_DEFAULTS.seed),
};

export function defaultDraft(): LaunchDraft {
  return { modelId: null, dinoModelId: null, datasetId: null, prompt: 'single', category: '', name: '', provider: '', ...PAPER_DEFAULTS };
}

export type LaunchField = keyof LaunchDraft;

/**
 * What the form remembers per dataset (everything but the dataset itself and the run's name, which
 * names one run): the values last used with it, stored as typed.
 */
export function rememberedOf(d: LaunchDraft): Partial<LaunchDraft> {
  const { datasetId: _dataset, name: _name, ...rest } = d;
  return rest;
}

/**
 * Puts remembered values (parsed from storage, so of unknown shape) back into a draft: only the
 * draft's own fields, each only with a value of its type (ids: a number or null), so a stale or
 * hand-edited entry cannot break the form.
 */
/** Fields whose text must be one of a few values. */
const CHOICES: Partial<Record<string, readonly string[]>> = { prompt: ['single', 'class', 'cpm'], schedule: ['constant', 'linear', 'cosine'], provider: ['', ...PROVIDER_CHOICES] };

export function restoreDraft(d: LaunchDraft, saved: unknown): void {
  if (!saved || typeof saved !== 'object') return;
  const base = defaultDraft() as unknown as Record<string, unknown>;
  const into = d as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(saved as Record<string, unknown>)) {
    if (k === 'datasetId' || k === 'name' || !(k in base)) continue;
    const want = base[k];
    const ok = want === null ? v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0) : typeof v === typeof want && (CHOICES[k]?.includes(v as string) ?? true);
    if (ok && into[k] !== v) into[k] = v;
  }
}

export interface LaunchCheck {
  args: TrainLaunch | null;
  errors: Partial<Record<LaunchField, string>>;
  /** Worth knowing, not blocking (e.g. fewer validation pairs than asked for). */
  notes: Partial<Record<LaunchField, string>>;
  /** What the schema refused that is no one field's (a form bug; shown above Start). */
  general: string | null;
}

interface Context {
  models: ModelInfo[];
  dataset: DatasetDetails | undefined;
}

/** Every field of the form, spelled as the contract spells the arguments (server errors name them). */
export const LAUNCH_FIELDS: readonly LaunchField[] = [
  'modelId',
  'dinoModelId',
  'datasetId',
  'prompt',
  'category',
  'steps',
  'batch',
  'lr',
  'schedule',
  'accumulate',
  'timestep',
  'size',
  'valEvery',
  'valPairs',
  'checkpointEvery',
  'seed',
  'name',
  'provider',
];

const LABELS: Record<NumberField, string> = {
  steps: 'Steps',
  batch: 'Batch',
  lr: 'Learning rate',
  accumulate: 'Accumulation',
  timestep: 'Timestep',
  size: 'Image size',
  valEvery: 'Validation interval',
  valPairs: 'Validation pairs',
  checkpointEvery: 'Checkpoint interval',
  seed: 'Seed',
};

/** The JSON Schema view of a field's rule: zod's public way to read bounds back out of a schema. */
interface FieldRule {
  type?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  multipleOf?: number;
  maxLength?: number;
  enum?: string[];
}

const RULES = (z.toJSONSchema(trainLaunchSchema, { io: 'input' }).properties ?? {}) as Partial<Record<LaunchField, FieldRule>>;

/** The longest run name the engine takes (the input's maxlength). */
export const NAME_MAX_LENGTH = RULES.name?.maxLength;

const fmt = (v: number) => v.toLocaleString('en-US');

/** What a field accepts, in words, from the schema's rule ("a whole number from 1 to 64"). */
export function ruleText(field: NumberField): string {
  const r = RULES[field] ?? {};
  const kind = r.multipleOf !== undefined ? `a multiple of ${fmt(r.multipleOf)}` : r.type === 'integer' ? 'a whole number' : r.exclusiveMinimum === 0 ? 'a positive number' : 'a number';
  const lower = r.minimum ?? (r.exclusiveMinimum !== 0 ? r.exclusiveMinimum : undefined);
  // zod's integers stop at the largest safe integer: no bound worth saying
  const upper = r.maximum !== undefined && r.maximum < Number.MAX_SAFE_INTEGER ? r.maximum : undefined;
  if (lower !== undefined && upper !== undefined) return `${kind} from ${fmt(lower)} to ${fmt(upper)}`;
  if (lower !== undefined) return `${kind}, at least ${fmt(lower)}`;
  if (upper !== undefined) return `${kind} up to ${fmt(upper)}`;
  return kind;
}

/** Why a field was refused, for the message next to it. */
function fieldMessage(field: LaunchField, issue: z.core.$ZodIssue): string {
  if (field in LABELS) {
    const f = field as NumberField;
    const paper = f === 'lr' || f === 'size' || f === 'timestep' ? ` (the paper: ${PAPER_DEFAULTS[f]})` : '';
    return `${LABELS[f]}: ${ruleText(f)}${paper}.`;
  }
  const rule = RULES[field];
  if (field === 'name' && rule?.maxLength !== undefined) return `At most ${fmt(rule.maxLength)} characters.`;
  if (rule?.enum) return `One of ${rule.enum.join(', ')}.`;
  return issue.message;
}

/** Number-like text as a number (the schema then judges it); anything else stays text, which it refuses. */
function numberOrText(text: string): number | string {
  const t = text.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : text;
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
  let general: string | null = null;

  // what only the form knows: which models and datasets exist and can be used
  const sd = ctx.models.find((m) => m.id === d.modelId && m.kind === 'stable-diffusion');
  if (!sd) errors.modelId = 'Choose a Stable Diffusion model (register one under Models).';
  else if (!sd.folderExists) errors.modelId = `The folder of ${sd.name} is missing: ${sd.folder}`;
  if (d.prompt === 'cpm') {
    const dino = ctx.models.find((m) => m.id === d.dinoModelId && m.kind === 'dinov2');
    if (!dino) errors.dinoModelId = ctx.models.some((m) => m.kind === 'dinov2') ? 'CPM needs a DINOv2 model: choose one.' : 'CPM needs a DINOv2 model: register one under Models first.';
  }
  if (d.datasetId === null || !ctx.dataset) errors.datasetId = 'Choose a dataset.';

  // everything else is the engine's schema, exactly as the server will apply it
  const candidate = {
    modelId: d.modelId,
    ...(d.prompt === 'cpm' && d.dinoModelId !== null ? { dinoModelId: d.dinoModelId } : {}),
    datasetId: d.datasetId,
    prompt: d.prompt,
    ...(d.category ? { category: d.category } : {}),
    steps: numberOrText(d.steps),
    batch: numberOrText(d.batch),
    lr: numberOrText(d.lr),
    schedule: d.schedule,
    accumulate: numberOrText(d.accumulate),
    timestep: numberOrText(d.timestep),
    size: numberOrText(d.size),
    valEvery: numberOrText(d.valEvery),
    valPairs: numberOrText(d.valPairs),
    checkpointEvery: numberOrText(d.checkpointEvery),
    seed: numberOrText(d.seed),
    ...(d.name.trim() ? { name: d.name.trim() } : {}),
    ...(d.provider ? { provider: d.provider } : {}),
  };
  const parsed = trainLaunchSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path[0];
      if (typeof field === 'string' && (LAUNCH_FIELDS as readonly string[]).includes(field)) {
        // the form's own message (e.g. "Choose a dataset.") says more than the schema's
        errors[field as LaunchField] ??= fieldMessage(field as LaunchField, issue);
      } else {
        general ??= issue.message;
      }
    }
  }
  const num = (v: number | string): number | null => (typeof v === 'number' ? v : null);
  const batch = errors.batch === undefined ? num(candidate.batch) : null;
  const steps = errors.steps === undefined ? num(candidate.steps) : null;
  const valEvery = errors.valEvery === undefined ? num(candidate.valEvery) : null;
  const valPairs = errors.valPairs === undefined ? num(candidate.valPairs) : null;
  const checkpointEvery = errors.checkpointEvery === undefined ? num(candidate.checkpointEvery) : null;

  const counts = pairCounts(ctx.dataset, d.category);
  if (counts && ctx.dataset) {
    const where = d.category ? `category ${d.category} of ${ctx.dataset.name}` : ctx.dataset.name;
    if (counts.trn === 0) errors.datasetId = `${where} has no training (trn) pairs.`;
    else if (batch !== null && batch > counts.trn) errors.batch = `Larger than the ${counts.trn} training pairs of ${where}.`;
    if (valEvery !== null && valEvery > 0 && counts.val === 0) notes.valEvery = `${where} has no validation pairs: no validation will run (best-prompt selection needs it).`;
    else if (valPairs !== null && valPairs > counts.val && valEvery !== null && valEvery > 0) notes.valPairs = `Only ${counts.val} validation pairs: all of them are used.`;
  }
  if (checkpointEvery !== null && steps !== null && checkpointEvery > steps) notes.checkpointEvery = 'Longer than the run: only the final state is checkpointed.';

  if (Object.keys(errors).length > 0 || general !== null || !parsed.success) return { args: null, errors, notes, general };
  // what the server will parse: the input as sent, not the parsed output (no defaults filled in)
  return { args: candidate as TrainLaunch, errors, notes, general };
}

/** The fields that decide a run's memory (`runs:estimate`). */
const MEMORY_FIELDS = ['modelId', 'dinoModelId', 'datasetId', 'category', 'batch', 'accumulate', 'size'] as const satisfies readonly LaunchField[];

/**
 * What to ask `runs:estimate` about the draft: its memory fields once they are valid (whatever
 * the others say), else null.
 */
export function estimateArgs(d: LaunchDraft, c: LaunchCheck): TrainEstimate | null {
  if (MEMORY_FIELDS.some((f) => c.errors[f] !== undefined)) return null;
  const batch = numberOrText(d.batch);
  const accumulate = numberOrText(d.accumulate);
  const size = numberOrText(d.size);
  if (typeof batch !== 'number' || typeof accumulate !== 'number' || typeof size !== 'number') return null;
  if (d.modelId === null || d.datasetId === null) return null;
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

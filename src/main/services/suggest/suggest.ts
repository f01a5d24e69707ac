/**
 * Matching-assisted annotation as an application service (contract/suggest.ts): a suggestion plan
 * is resolved and checked whole in the calling process (category and schema, exemplars, targets,
 * prompt, model folders, image files), then run in a job process by the `suggest` and
 * `suggest-eval` worker tasks, which open the model once and keep features in the tensor cache.
 * Pending suggestions are stored apart from annotations (suggestions repository); nothing here
 * writes an annotation.
 */
import type { SuggestEvalReport, SuggestionSet, SuggestQueue } from '../../contract/index.js';
import { rankQueue, schemaConfidence } from '../../engine/suggest/ranking.js';
import { DEFAULT_FUSION_WEIGHT, type FeatureSource } from '../../engine/sd4match/features/fusion.js';
import { AppError } from '../../shared/errors.js';
import type { SuggestionSetRecord } from '../../store/repositories/suggestions.js';
import { type AppContext, jobRunner } from '../app/app.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { TaskRunner } from '../jobs/tasks.js';
import { modelFolder, type Services } from '../app/context.js';
import { type PlanInput, planSuggestion, type SuggestOutcome, type SuggestPlan } from './plan.js';

// --- running a plan (the API and the CLI) ----------------------------------------------------

/** Suggests keypoints for a plan's targets in a job process, storing and announcing each image's set. */
export function suggestInProcess(run: TaskRunner, svc: Services, plan: SuggestPlan, task: TaskContext): Promise<{ images: number; seconds: number }> {
  return run('suggest', { db: svc.store.file, plan }, task);
}

/** Suggests keypoints for a plan's targets in a job process and returns the sets; writes nothing. */
export function previewSuggestionsInProcess(run: TaskRunner, svc: Services, plan: SuggestPlan, task: TaskContext): Promise<SuggestOutcome> {
  return run('suggest-preview', { db: svc.store.file, plan }, task);
}

/** Measures suggestion quality on a plan's labelled targets in a job process; writes nothing. */
export function evaluateSuggestionsInProcess(run: TaskRunner, svc: Services, plan: SuggestPlan, acceptThreshold: number, task: TaskContext): Promise<SuggestEvalReport> {
  return run('suggest-eval', { db: svc.store.file, plan, acceptThreshold }, task);
}

// --- the API's use cases ---------------------------------------------------------------------

/** Suggestion settings as a window gives them: a stored prompt on registered models. */
export interface SuggestSettings {
  categoryId: number;
  promptId: number;
  modelId: number;
  dinoModelId?: number;
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
  /** SD features (default), DINOv2 on the SD grid, or both fused with SD's share `fusionWeight`. */
  features?: FeatureSource;
  fusionWeight?: number;
  /** Exemplar image ids (default: every image of the category with a labelled visible keypoint). */
  exemplarIds?: number[];
  visibleThreshold: number;
}

/** Suggestions for these images (default: every unannotated image of the category). */
export interface SuggestRequest extends SuggestSettings {
  imageIds?: number[];
}

/** A measure of suggestion quality: the first `exemplars` annotated images are exemplars, the rest (at most `limit`) are evaluated. */
export interface SuggestEvalRequest extends SuggestSettings {
  exemplars: number;
  acceptThreshold: number;
  limit?: number;
}

/** An image's pending suggestions in a category. */
export interface ImageCategory {
  imageId: number;
  categoryId: number;
}

/** A plan's input from a window's settings. */
export function planInput(svc: Services, categoryId: number, a: SuggestSettings, imageIds?: number[]): PlanInput {
  return {
    categoryId,
    imageIds,
    exemplarIds: a.exemplarIds,
    modelDir: modelFolder(svc, a.modelId, 'stable-diffusion'),
    dinoDir: a.dinoModelId ? modelFolder(svc, a.dinoModelId, 'dinov2') : undefined,
    prompt: { promptId: a.promptId },
    settings: { size: a.size, timestep: a.timestep, ensemble: a.ensemble, seed: a.seed },
    features: { features: a.features ?? 'sd', weight: a.fusionWeight ?? DEFAULT_FUSION_WEIGHT },
    visibleThreshold: a.visibleThreshold,
  };
}

export async function startSuggest(ctx: AppContext, a: SuggestRequest): Promise<{ jobId: string }> {
  const svc = ctx.services();
  return startSuggestPlan(ctx, await planSuggestion(svc, planInput(svc, a.categoryId, a, a.imageIds)));
}

/** A suggest job's title. */
export function suggestTitle(plan: SuggestPlan): string {
  const n = plan.targets.length;
  return n === 1 ? `suggesting keypoints for ${plan.targets[0].path}` : `suggesting keypoints for ${n} images of ${plan.category}`;
}

/** Runs a checked plan as a suggest job, in a job process of its own. */
export function startSuggestPlan(ctx: AppContext, plan: SuggestPlan): { jobId: string } {
  const { job } = ctx.jobs.run('suggest', suggestTitle(plan), (task) => suggestInProcess(jobRunner(ctx), ctx.services(), plan, task));
  return { jobId: job.id };
}

export async function startSuggestEval(ctx: AppContext, a: SuggestEvalRequest): Promise<{ jobId: string }> {
  const svc = ctx.services();
  const plan = await planSuggestion(svc, planInput(svc, a.categoryId, a), { evalExemplars: a.exemplars, limit: a.limit });
  const { job } = ctx.jobs.run('suggest-eval', `evaluating suggestions on ${plan.targets.length} images of ${plan.category}`, (task) =>
    evaluateSuggestionsInProcess(jobRunner(ctx), svc, plan, a.acceptThreshold, task),
  );
  return { jobId: job.id };
}

function toStoredSet(svc: Services, r: SuggestionSetRecord): SuggestionSet {
  const schema = svc.repos.datasets.category(r.categoryId)?.keypoints ?? [];
  return {
    imageId: r.imageId,
    categoryId: r.categoryId,
    promptId: r.promptId,
    prompt: r.prompt,
    exemplars: r.exemplars,
    // a schema shortened since: its keypoints are gone
    keypoints: r.keypoints.filter((k) => k.kp < schema.length).map((k) => ({ ...k, name: schema[k.kp].name })),
    seconds: r.seconds,
    createdAt: r.createdAt,
  };
}

export async function getSuggestions(ctx: AppContext, a: ImageCategory): Promise<SuggestionSet | null> {
  const svc = ctx.services();
  const r = svc.repos.suggestions.get(a.imageId, a.categoryId);
  return r ? toStoredSet(svc, r) : null;
}

export async function clearSuggestions(ctx: AppContext, a: ImageCategory): Promise<{ cleared: boolean }> {
  const svc = ctx.services();
  const cat = svc.repos.datasets.category(a.categoryId);
  if (!cat) throw new AppError('NOT_FOUND', `no category with id ${a.categoryId}`);
  const cleared = await svc.store.write(() => svc.repos.suggestions.clear(a.imageId, a.categoryId));
  if (cleared) ctx.events.emit('suggest:changed', { datasetId: cat.datasetId, categoryId: a.categoryId, imageId: a.imageId });
  return { cleared };
}

/** The queue from stored suggestions and descriptors (the latest feature space the category was suggested in). */
export function queueOf(svc: Services, categoryId: number): SuggestQueue {
  const cat = svc.repos.datasets.category(categoryId);
  if (!cat) throw new AppError('NOT_FOUND', `no category with id ${categoryId}`);
  const images = svc.repos.images.imagesOfCategory(cat.datasetId, categoryId);
  const unlabelled = images.filter((i) => !i.labelled);
  const sets = new Map(svc.repos.suggestions.listForCategory(categoryId).map((s) => [s.imageId, s]));
  const latest = [...sets.values()].sort((a, b) => b.createdAt - a.createdAt)[0];
  const key = (latest?.settings as { descriptorKey?: string } | undefined)?.descriptorKey;
  const descriptors = key
    ? svc.repos.suggestions.descriptors(
        images.map((i) => i.id),
        key,
      )
    : new Map<number, Float32Array>();
  const ranked = rankQueue(
    unlabelled.map((i) => {
      const s = sets.get(i.id);
      const confidence = s ? schemaConfidence(s.keypoints, cat.keypoints.length) : null;
      return { id: i.id, confidence, descriptor: descriptors.get(i.id) ?? null };
    }),
    images.filter((i) => i.labelled && descriptors.has(i.id)).map((i) => descriptors.get(i.id)!),
  );
  const pathOf = new Map(images.map((i) => [i.id, i.path]));
  return {
    categoryId,
    items: ranked.map((r) => ({ imageId: r.id, path: pathOf.get(r.id)!, score: r.score, confidence: r.confidence, novelty: r.novelty, reason: r.reason })),
    unranked: ranked.filter((r) => r.confidence === null && r.novelty === null).length,
  };
}

export async function suggestQueue(ctx: AppContext, categoryId: number): Promise<SuggestQueue> {
  return queueOf(ctx.services(), categoryId);
}

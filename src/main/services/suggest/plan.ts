/**
 * A suggestion plan and its runs: the images, exemplars and settings of a request, checked; the
 * job-process bodies that suggest keypoints for its targets (stored or returned) and that measure
 * suggestion quality on labelled images. Free of the application context: the job process runs
 * them on its own services.
 */
import fs from 'node:fs';
import type { SuggestEvalReport, SuggestionSet } from '../../contract/index.js';
import { SUGGEST_DEFAULTS, SUGGEST_EVAL_ALPHAS } from '../../contract/suggest.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import { checkFeaturesFit } from '../../engine/sd4match/memory/memory-estimate.js';
import { describePrompt, type ImageRef, type Pipeline, type PromptSpec, type PipelineSettings } from '../../engine/sd4match/features/pipeline.js';
import { createPipeline, type FeatureChoice, methodLabel, requireFeatureInputs } from '../../engine/sd4match/features/fusion.js';
import { loadLearnedPrompt } from '../../engine/sd4match/prompts/prompts.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { SessionCache } from '../../engine/onnx/session-cache.js';
import { type Exemplar, type ImageSuggestion, suggestKeypoints } from '../../engine/suggest/suggest.js';
import { reliabilityTable, type ScoredPoint } from '../../engine/suggest/reliability.js';
import { AppError } from '../../shared/errors.js';
import { promptSpecOf } from '../prompts/resolve.js';
import { type Services } from '../app/context.js';
import { requirePromptSupported } from '../models/capabilities.js';
import { ImageAccess } from '../images/access.js';

/** One image as a job process needs it. */
export interface PlannedImage {
  imageId: number;
  path: string;
  ref: ImageRef;
  /** Object size: bbox larger side, or the image's larger side. */
  scale: number;
}

export interface PlannedExemplar extends PlannedImage {
  keypoints: { kp: number; x: number; y: number }[];
}

export interface PlannedTarget extends PlannedImage {
  /** Visible ground truth (suggest-eval only). */
  truth?: { kp: number; x: number; y: number }[];
}

/** Everything a suggestion job needs, checked, serialisable. */
export interface SuggestPlan {
  datasetId: number;
  categoryId: number;
  category: string;
  schema: string[];
  /** The schema's symmetric pairs: exemplars are matched mirrored too (engine/suggest/suggest.ts). */
  flipPairs?: [number, number][];
  modelDir: string;
  dinoDir?: string;
  promptId: number | null;
  /** Set when the prompt is given as it is (CLI); otherwise the job reads the stored prompt. */
  prompt?: PromptSpec;
  promptName: string;
  settings: PipelineSettings;
  /** SD features (absent: SD alone), DINOv2 on the SD grid, or both fused (engine/sd4match/features/fusion.ts). */
  features?: FeatureChoice;
  visibleThreshold: number;
  exemplars: PlannedExemplar[];
  targets: PlannedTarget[];
  /** Identifies the feature space of the stored descriptors. */
  descriptorKey: string;
}

/** What a plan is made from: the API's arguments, or the CLI's. */
export interface PlanInput {
  categoryId: number;
  /** Targets (default: the category's unlabelled images). */
  imageIds?: number[];
  exemplarIds?: number[];
  modelDir: string;
  dinoDir?: string;
  prompt: { promptId: number } | { spec: PromptSpec };
  settings: PipelineSettings;
  /** Which features match (default SD alone). */
  features?: FeatureChoice;
  visibleThreshold?: number;
}

interface Labelled {
  path: string;
  bbox: [number, number, number, number] | null;
  keypoints: { kp: number; x: number; y: number; visibility: 1 | 2 }[];
}

/** The category's labelled images (image id -> keypoints in schema range, bbox), by path. */
function labelledImages(svc: Services, datasetId: number, categoryId: number, schemaSize: number): Map<number, Labelled> {
  const out = new Map<number, Labelled>();
  for (const r of svc.repos.images.keypointRowsOfCategory(datasetId, categoryId)) {
    let l = out.get(r.id);
    if (!l) {
      const bbox = r.bbox_x1 !== null && r.bbox_y1 !== null && r.bbox_x2 !== null && r.bbox_y2 !== null ? ([r.bbox_x1, r.bbox_y1, r.bbox_x2, r.bbox_y2] as [number, number, number, number]) : null;
      l = { path: r.path, bbox, keypoints: [] };
      out.set(r.id, l);
    }
    if (r.kp < schemaSize) l.keypoints.push({ kp: r.kp, x: r.x, y: r.y, visibility: r.visibility });
  }
  return out;
}

function scaleOf(bbox: Labelled['bbox'] | undefined, ref: ImageRef): number {
  if (bbox && bbox[2] > bbox[0] && bbox[3] > bbox[1]) return Math.max(bbox[2] - bbox[0], bbox[3] - bbox[1]);
  return Math.max(ref.width, ref.height);
}

async function planImage(access: ImageAccess, imageId: number): Promise<{ ref: ImageRef; path: string; datasetId: number }> {
  const f = await access.getImage(imageId);
  return { ref: { file: f.path, key: f.sha256, width: f.width, height: f.height, orient: f.orient }, path: f.relPath, datasetId: f.datasetId };
}

function checkPrompt(svc: Services, input: PlanInput, category: string): { promptId: number | null; prompt?: PromptSpec; name: string; needsDino: boolean } {
  if ('promptId' in input.prompt) {
    const { spec, name, needsDino } = promptSpecOf(svc, input.prompt.promptId);
    if (spec.kind === 'learned' && spec.prompt.meta.kind === 'class' && !spec.prompt.meta.categories.includes(category)) {
      throw new AppError('INVALID_ARGUMENT', `${name} is a Class prompt without a prompt for '${category}' (it has: ${spec.prompt.meta.categories.join(', ')})`);
    }
    return { promptId: input.prompt.promptId, name, needsDino };
  }
  const spec = input.prompt.spec;
  if (spec.kind === 'file') {
    const p = loadLearnedPrompt(spec.file);
    if (p.meta.kind === 'class' && !p.meta.categories.includes(category)) {
      throw new AppError('INVALID_ARGUMENT', `${spec.file} has no prompt for category '${category}' (it has: ${p.meta.categories.join(', ')})`);
    }
    return { promptId: null, prompt: spec, name: describePrompt(spec), needsDino: p.meta.kind === 'cpm' };
  }
  return { promptId: null, prompt: spec, name: describePrompt(spec), needsDino: spec.kind === 'dino' };
}

/**
 * Resolves and checks a suggestion (or suggest-eval) request whole: nothing runs and nothing is
 * written when any part is wrong, and the error names it.
 */
export async function planSuggestion(svc: Services, input: PlanInput, mode: { evalExemplars?: number; limit?: number } = {}): Promise<SuggestPlan> {
  const cat = svc.repos.datasets.category(input.categoryId);
  if (!cat) throw new AppError('NOT_FOUND', `no category with id ${input.categoryId}`);
  const ds = svc.repos.datasets.find(cat.datasetId)!;
  const where = `category '${cat.name}' of dataset '${ds.name}'`;
  if (cat.keypoints.length === 0) throw new AppError('INVALID_ARGUMENT', `${where} has no keypoint schema: define its keypoints in Annotate first`);
  const schema = cat.keypoints.map((k) => k.name);
  const labelled = labelledImages(svc, ds.id, cat.id, schema.length);
  const visibleOf = (id: number) => labelled.get(id)?.keypoints.filter((k) => k.visibility === 2) ?? [];
  const usable = [...labelled.keys()].filter((id) => visibleOf(id).length > 0);
  if (usable.length === 0) throw new AppError('INVALID_ARGUMENT', `${where} has no exemplars: label the visible keypoints of at least one image first`);
  const access = new ImageAccess(svc.store);

  let exemplarIds: number[];
  if (input.exemplarIds) {
    exemplarIds = [...new Set(input.exemplarIds)];
    for (const id of exemplarIds) {
      const rec = svc.repos.images.get(id);
      if (!rec) throw new AppError('NOT_FOUND', `exemplar image ${id} does not exist`);
      if (rec.datasetId !== ds.id) throw new AppError('INVALID_ARGUMENT', `exemplar image ${id} (${rec.path}) belongs to another dataset, not '${ds.name}'`);
      if (!labelled.has(id)) throw new AppError('INVALID_ARGUMENT', `exemplar image ${id} (${rec.path}) has no keypoints labelled in ${where}`);
    }
    if (!exemplarIds.some((id) => visibleOf(id).length > 0)) {
      throw new AppError('INVALID_ARGUMENT', `the exemplars share no visible keypoint with the schema of ${where} (${schema.join(', ')})`);
    }
  } else if (mode.evalExemplars !== undefined) {
    exemplarIds = usable.slice(0, mode.evalExemplars);
  } else {
    exemplarIds = usable;
  }
  const exemplarSet = new Set(exemplarIds);

  let targetIds: number[];
  if (mode.evalExemplars !== undefined) {
    targetIds = usable.filter((id) => !exemplarSet.has(id));
    if (mode.limit) targetIds = targetIds.slice(0, mode.limit);
    if (targetIds.length === 0) throw new AppError('INVALID_ARGUMENT', `${where} has ${usable.length} labelled image(s), all used as exemplars: nothing is left to evaluate on`);
  } else if (input.imageIds) {
    targetIds = [...new Set(input.imageIds)];
    for (const id of targetIds) {
      const rec = svc.repos.images.get(id);
      if (!rec) throw new AppError('NOT_FOUND', `image ${id} does not exist`);
      if (rec.datasetId !== ds.id) throw new AppError('INVALID_ARGUMENT', `image ${id} (${rec.path}) belongs to another dataset, not '${ds.name}' of ${where}`);
      if (!svc.repos.images.isImageOfCategory(id, cat.id)) throw new AppError('INVALID_ARGUMENT', `image ${id} (${rec.path}) is not an image of ${where}`);
    }
  } else {
    targetIds = svc.repos.images
      .imagesOfCategory(ds.id, cat.id)
      .filter((i) => !i.labelled)
      .map((i) => i.id);
    if (targetIds.length === 0) throw new AppError('INVALID_ARGUMENT', `${where} has no unannotated images to suggest for`);
  }

  const alone = targetIds.find((id) => exemplarIds.every((e) => e === id || visibleOf(e).length === 0));
  if (alone !== undefined) {
    throw new AppError('INVALID_ARGUMENT', `image ${alone} (${svc.repos.images.get(alone)!.path}) is the only exemplar of ${where}: suggestions for it need another labelled image`);
  }

  const prompt = checkPrompt(svc, input, cat.name);
  requirePromptSupported(svc, input.modelDir, prompt.prompt ?? promptSpecOf(svc, prompt.promptId!).spec);
  if (prompt.needsDino && !input.dinoDir) throw new AppError('INVALID_ARGUMENT', `${prompt.name} needs a DINOv2 model: choose one`);
  const features = input.features?.features === 'sd' ? undefined : input.features;
  if (features) requireFeatureInputs(features, prompt.prompt ?? promptSpecOf(svc, prompt.promptId!).spec, !!input.dinoDir);
  for (const [what, dir] of [
    ['model', input.modelDir],
    ['DINOv2 model', input.dinoDir],
  ] as const) {
    if (dir && !fs.existsSync(dir)) throw new AppError('NOT_FOUND', `the ${what} folder ${dir} is gone`);
  }

  const exemplars: PlannedExemplar[] = [];
  for (const id of exemplarIds) {
    const img = await planImage(access, id);
    const l = labelled.get(id)!;
    exemplars.push({ imageId: id, path: img.path, ref: img.ref, scale: scaleOf(l.bbox, img.ref), keypoints: visibleOf(id).map(({ kp, x, y }) => ({ kp, x, y })) });
  }
  const targets: PlannedTarget[] = [];
  for (const id of targetIds) {
    const img = await planImage(access, id);
    const l = labelled.get(id);
    const t: PlannedTarget = { imageId: id, path: img.path, ref: img.ref, scale: scaleOf(l?.bbox, img.ref) };
    if (mode.evalExemplars !== undefined) t.truth = visibleOf(id).map(({ kp, x, y }) => ({ kp, x, y }));
    targets.push(t);
  }
  const s = input.settings;
  return {
    datasetId: ds.id,
    categoryId: cat.id,
    category: cat.name,
    schema,
    flipPairs: cat.flipPairs,
    modelDir: input.modelDir,
    dinoDir: input.dinoDir,
    promptId: prompt.promptId,
    prompt: prompt.prompt,
    promptName: methodLabel(prompt.name, features),
    ...(features ? { features } : {}),
    settings: s,
    visibleThreshold: input.visibleThreshold ?? SUGGEST_DEFAULTS.visibleThreshold,
    exemplars,
    targets,
    descriptorKey: JSON.stringify({
      model: input.modelDir,
      prompt: prompt.promptId ?? prompt.name,
      size: s.size,
      timestep: s.timestep,
      ensemble: s.ensemble,
      seed: s.seed,
      ...(features ? { features } : {}),
    }),
  };
}

/** A suggestion job's engine: the model, the pipeline and the matching sessions, opened once. */
export class Suggester {
  private readonly sessions = new SessionCache(16);

  private constructor(
    readonly plan: SuggestPlan,
    private readonly sd: SdModel,
    private readonly pipe: Pipeline,
  ) {}

  static async open(svc: Services, plan: SuggestPlan, task?: TaskContext): Promise<Suggester> {
    const spec = plan.prompt ?? promptSpecOf(svc, plan.promptId!).spec;
    const sd = SdModel.open(plan.modelDir, { cacheDir: svc.cacheDir, task });
    try {
      // say so before a request the machine cannot hold, rather than lose the job process
      checkFeaturesFit(sd, plan.settings.size, plan.settings.ensemble, await sd.provider());
      const dino = plan.dinoDir ? inspectDinoFolder(plan.dinoDir) : null;
      return new Suggester(plan, sd, createPipeline(sd, spec, plan.settings, svc.tensors, dino, plan.features));
    } catch (e) {
      await sd.dispose();
      throw e;
    }
  }

  /**
   * Suggestions for one target, from the plan's exemplars (never the target itself). `plan`: another
   * plan of the same model, prompt and feature settings (a warm host's later request: other
   * exemplars, another category); default the plan opened with.
   */
  async suggest(t: PlannedTarget, task?: TaskContext, plan: SuggestPlan = this.plan): Promise<ImageSuggestion & { seconds: number }> {
    const started = performance.now();
    const exemplars: Exemplar[] = plan.exemplars.filter((e) => e.imageId !== t.imageId);
    if (exemplars.length === 0) throw new AppError('INVALID_ARGUMENT', `image ${t.imageId} (${t.path}) is the only exemplar: suggestions need another labelled image`);
    const r = await suggestKeypoints(this.pipe, this.sessions, t.ref, exemplars, plan.category, { visibleThreshold: plan.visibleThreshold, flipPairs: plan.flipPairs }, task);
    return { ...r, seconds: (performance.now() - started) / 1000 };
  }

  async dispose(): Promise<void> {
    await this.pipe.dispose();
    await this.sd.dispose();
    await this.sessions.clear();
  }
}

/** One target's result as the API shows it. */
export function toSuggestionSet(plan: SuggestPlan, imageId: number, r: { keypoints: ImageSuggestion['keypoints']; seconds: number }, createdAt = Date.now()): SuggestionSet {
  return {
    imageId,
    categoryId: plan.categoryId,
    promptId: plan.promptId,
    prompt: plan.promptName,
    exemplars: plan.exemplars.map((e) => e.imageId).filter((id) => id !== imageId),
    keypoints: r.keypoints.map((k) => ({ ...k, name: plan.schema[k.kp] })),
    seconds: r.seconds,
    createdAt,
  };
}

export interface SuggestOutcome {
  sets: SuggestionSet[];
  /** Global descriptors of the targets and exemplars, by image id (only when not stored). */
  descriptors: Record<number, number[]>;
}

/**
 * The `suggest` task: suggests for every target in turn; with `store`, each image's set replaces
 * its pending one as soon as it is done (so a cancelled batch keeps what it finished) and its
 * descriptor is kept for the queue. Returns the sets.
 */
export async function runSuggestPlan(svc: Services, plan: SuggestPlan, task: TaskContext, opts: { store: boolean; emit?: (name: string, payload: unknown) => void }): Promise<SuggestOutcome> {
  const total = plan.targets.length;
  task.progress({ stage: 'opening the model', done: 0, total });
  const s = await Suggester.open(svc, plan, task);
  const out: SuggestionSet[] = [];
  const descriptors: Record<number, number[]> = {};
  try {
    for (const [i, t] of plan.targets.entries()) {
      task.token.throwIfCancelled();
      task.progress({ stage: 'suggesting keypoints', done: i, total, detail: t.path });
      const r = await s.suggest(t, task);
      const set = toSuggestionSet(plan, t.imageId, r);
      out.push(set);
      if (!opts.store) {
        descriptors[t.imageId] = Array.from(r.descriptor);
        for (const [id, d] of r.exemplarDescriptors) descriptors[id] ??= Array.from(d);
      } else {
        await storeSuggestion(svc, plan, t.imageId, r);
        opts.emit?.('suggest:changed', { datasetId: plan.datasetId, categoryId: plan.categoryId, imageId: t.imageId });
      }
    }
    task.progress({ stage: 'suggesting keypoints', done: total, total });
    return { sets: out, descriptors };
  } finally {
    await s.dispose();
  }
}

/**
 * Stores one image's suggestion set in place of its pending one, with the global descriptors of
 * the image and its exemplars (for the queue), in one write; the caller announces it.
 */
export async function storeSuggestion(
  svc: Services,
  plan: SuggestPlan,
  imageId: number,
  r: { keypoints: ImageSuggestion['keypoints']; seconds: number; descriptor: ArrayLike<number>; exemplarDescriptors: Iterable<[number, ArrayLike<number>]> },
): Promise<void> {
  const set = toSuggestionSet(plan, imageId, r);
  await svc.store.write(() => {
    svc.repos.suggestions.put({
      imageId,
      categoryId: plan.categoryId,
      promptId: plan.promptId,
      prompt: plan.promptName,
      settings: { ...plan.settings, visibleThreshold: plan.visibleThreshold, modelDir: plan.modelDir, descriptorKey: plan.descriptorKey },
      exemplars: set.exemplars,
      seconds: r.seconds,
      keypoints: r.keypoints,
    });
    svc.repos.suggestions.putDescriptor(imageId, plan.descriptorKey, Float32Array.from(r.descriptor));
    for (const [id, d] of r.exemplarDescriptors) svc.repos.suggestions.putDescriptor(id, plan.descriptorKey, Float32Array.from(d));
  });
}

/** The `suggest-eval` task: suggestions on labelled images with their labels hidden, against those labels. */
export async function runSuggestEval(svc: Services, plan: SuggestPlan, task: TaskContext, acceptThreshold: number): Promise<SuggestEvalReport> {
  const alphas = [...SUGGEST_EVAL_ALPHAS];
  const total = plan.targets.length;
  task.progress({ stage: 'opening the model', done: 0, total });
  const s = await Suggester.open(svc, plan, task);
  const perImage: SuggestEvalReport['perImage'] = [];
  const perKp = plan.schema.map((name, kp) => ({ kp, name, points: 0, hits: alphas.map(() => 0), confidence: 0 }));
  const hits = alphas.map(() => 0);
  let points = 0;
  let accepted = 0;
  let acceptedRight = 0;
  let seconds = 0;
  const scored: ScoredPoint[] = [];
  try {
    for (const [i, t] of plan.targets.entries()) {
      task.token.throwIfCancelled();
      task.progress({ stage: 'suggesting on labelled images', done: i, total, detail: t.path });
      const r = await s.suggest(t, task);
      seconds += r.seconds;
      const byKp = new Map(r.keypoints.map((k) => [k.kp, k]));
      const imageHits = alphas.map(() => 0);
      for (const g of t.truth ?? []) {
        const sug = byKp.get(g.kp);
        const err = sug ? Math.hypot(sug.x - g.x, sug.y - g.y) : Infinity;
        scored.push({ confidence: sug?.confidence ?? 0, error: err / t.scale });
        const row = perKp[g.kp];
        row.points++;
        row.confidence += sug?.confidence ?? 0;
        points++;
        alphas.forEach((a, j) => {
          if (err <= a * t.scale) {
            imageHits[j]++;
            hits[j]++;
            row.hits[j]++;
          }
        });
        if (sug && sug.confidence >= acceptThreshold) {
          accepted++;
          if (err <= 0.1 * t.scale) acceptedRight++;
        }
      }
      const n = t.truth?.length ?? 0;
      perImage.push({ imageId: t.imageId, path: t.path, points: n, pck: pckRecord(alphas, imageHits, n), seconds: r.seconds });
    }
    task.progress({ stage: 'suggesting on labelled images', done: total, total });
  } finally {
    await s.dispose();
  }
  return {
    category: plan.category,
    prompt: plan.promptName,
    exemplars: plan.exemplars.map((e) => ({ imageId: e.imageId, path: e.path })),
    alphas,
    acceptThreshold,
    pck: pckRecord(alphas, hits, points),
    acceptedUnchanged: points ? acceptedRight / points : 0,
    acceptedShare: points ? accepted / points : 0,
    perImage,
    perKeypoint: perKp.filter((k) => k.points > 0).map((k) => ({ kp: k.kp, name: k.name, points: k.points, pck: pckRecord(alphas, k.hits, k.points), meanConfidence: k.confidence / k.points })),
    secondsPerImage: total ? seconds / total : 0,
    images: total,
    reliability: reliabilityTable(scored, alphas),
  };
}

function pckRecord(alphas: number[], hits: number[], n: number): Record<string, number> {
  return Object.fromEntries(alphas.map((a, j) => [String(a), n ? hits[j] / n : 0]));
}

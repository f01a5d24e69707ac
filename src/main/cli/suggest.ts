/**
 * `sd4match suggest`, `suggest-eval` and `suggest-queue`: matching-assisted annotation headless, on
 * the same services as the workstation (services/suggest/), in a supervised job process. None of
 * them writes to the database: suggestions print (and go to --json), they never become pending.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { FEATURE_DEFAULTS } from '../contract/runs.js';
import { SUGGEST_DEFAULTS } from '../contract/suggest.js';
import type { SuggestEvalReport } from '../contract/index.js';
import { rankQueue, schemaConfidence } from '../engine/suggest/ranking.js';
import { AppError } from '../shared/errors.js';
import type { Dataset } from '../store/repositories/datasets.js';
import { type Services, openServices, requireCategory } from '../services/app/context.js';
import { sourceJobRuntime } from '../services/jobs/runtime.js';
import { processRunner } from '../services/jobs/tasks.js';
import { evaluateSuggestionsInProcess, previewSuggestionsInProcess } from '../services/suggest/suggest.js';
import { type PlanInput, planSuggestion } from '../services/suggest/plan.js';
import { cliTask, parseFloatOption, parseIntOption } from './common.js';
import { parsePromptArg } from './models.js';
import { DEFAULT_FUSION_WEIGHT, FEATURE_SOURCES, type FeatureSource, requireFeatureInputs } from '../engine/sd4match/features/fusion.js';

interface FeatureOptions {
  modelDir: string;
  dinoDir?: string;
  dataset: string;
  category?: string;
  prompt: string;
  features: string;
  fusionWeight: number;
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
  visibleThreshold: number;
}

function featureOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder')
    .option('--dino-dir <dir>', 'DINOv2 folder (CPM prompts, the DINOv2 baseline)')
    .requiredOption('--dataset <name>', 'dataset name or id (see `datasets list`)')
    .option('--prompt <p>', 'empty | template | template:<text with {category}> | dino | a prompt file', 'empty')
    .option('--features <f>', `${FEATURE_SOURCES.join(' | ')}: SD features (the prompt's), DINOv2 resampled to the SD grid, or both fused`, 'sd')
    .option('--fusion-weight <w>', "SD's share w in sd+dino (DINOv2 gets 1 - w)", parseFloatOption('--fusion-weight'), DEFAULT_FUSION_WEIGHT)
    .option('--size <S>', 'image size', parseIntOption('--size'), FEATURE_DEFAULTS.size)
    .option('--timestep <t>', 'diffusion timestep', parseIntOption('--timestep'), FEATURE_DEFAULTS.timestep)
    .option('--ensemble <K>', 'noise draws averaged per image', parseIntOption('--ensemble'), FEATURE_DEFAULTS.ensemble)
    .option('--seed <n>', 'seed of every random draw', parseIntOption('--seed'), FEATURE_DEFAULTS.seed)
    .option('--visible-threshold <c>', 'suggest "not visible" below this confidence', parseFloatOption('--visible-threshold'), SUGGEST_DEFAULTS.visibleThreshold);
}

/** An image of the dataset by id, by its path as the dataset lists it, or by absolute path. */
export function resolveImage(svc: Services, ds: Dataset, ref: string): number {
  const r = ref.trim();
  if (/^\d+$/.test(r)) {
    const img = svc.repos.images.get(Number(r));
    if (!img) throw new AppError('NOT_FOUND', `no image with id ${r}`);
    if (img.datasetId !== ds.id) throw new AppError('INVALID_ARGUMENT', `image ${r} (${img.path}) belongs to another dataset, not '${ds.name}'`);
    return img.id;
  }
  let rel = r.replaceAll('\\', '/');
  if (path.isAbsolute(r)) {
    const root = fs.realpathSync(ds.root);
    const abs = fs.existsSync(r) ? fs.realpathSync(r) : path.resolve(r);
    rel = path.relative(root, abs).split(path.sep).join('/');
    if (rel.startsWith('..')) throw new AppError('INVALID_ARGUMENT', `${r} is not inside the folder of dataset '${ds.name}' (${ds.root})`);
  }
  const img = svc.repos.images.findByPath(ds.id, rel);
  if (!img) throw new AppError('NOT_FOUND', `dataset '${ds.name}' has no image '${ref}' (give an image id, its path as the dataset lists it, or its absolute path)`);
  return img.id;
}

/** --category, or the image's own category, or the dataset's only category with a schema. */
function categoryOf(svc: Services, ds: Dataset, name: string | undefined, imageId?: number): number {
  if (name) return requireCategory(svc, ds.id, ds.name, name);
  const own = imageId !== undefined ? svc.repos.images.get(imageId)?.categoryId : null;
  if (own) return own;
  const withSchema = svc.repos.datasets.categories(ds.id).filter((c) => c.keypoints.length > 0);
  if (withSchema.length === 1) return withSchema[0].id;
  throw new AppError(
    'INVALID_ARGUMENT',
    `dataset '${ds.name}' has ${withSchema.length} categories with a keypoint schema (${withSchema.map((c) => c.name).join(', ') || 'none'}): choose one with --category`,
  );
}

function planInputOf(o: FeatureOptions, categoryId: number, extra: Partial<PlanInput>): PlanInput {
  const features = { features: o.features as FeatureSource, weight: o.fusionWeight };
  const spec = parsePromptArg(o.prompt);
  // a missing DINOv2 folder or a wrong choice is said before any model is opened
  requireFeatureInputs(features, spec, !!o.dinoDir);
  return {
    categoryId,
    modelDir: path.resolve(o.modelDir),
    dinoDir: o.dinoDir ? path.resolve(o.dinoDir) : undefined,
    prompt: { spec },
    settings: { size: o.size, timestep: o.timestep, ensemble: o.ensemble, seed: o.seed },
    features,
    visibleThreshold: o.visibleThreshold,
    ...extra,
  };
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function formatSuggestEval(r: SuggestEvalReport): string {
  const lines = [
    `${r.category}: ${r.prompt}, ${r.exemplars.length} exemplar(s) (${r.exemplars.map((e) => e.path).join(', ')}), ${r.images} image(s) evaluated`,
    `  PCK ${r.alphas.map((a) => `@${a} ${pct(r.pck[String(a)])}`).join('  ')}`,
    `  accepted unchanged at confidence >= ${r.acceptThreshold}: ${pct(r.acceptedUnchanged)} (suggested at that confidence: ${pct(r.acceptedShare)})`,
    `  ${r.secondsPerImage.toFixed(2)} s per image`,
    '  reliability (visible keypoints by the confidence of their suggestion; none suggested = 0):',
    `    ${'confidence'.padEnd(12)} ${'points'.padStart(6)}  ${'mean'.padStart(5)}  ${['0.05', '0.1'].map((a) => `PCK@${a}`.padStart(9)).join('')}   ${'at or above'.padEnd(11)} ${'points'.padStart(6)}  ${['0.05', '0.1'].map((a) => `PCK@${a}`.padStart(9)).join('')}`,
    ...r.reliability.bins.map((b, i) => {
      const up = r.reliability.atLeast[i]!;
      const cells = (row: typeof b) => ['0.05', '0.1'].map((a) => (row.points ? pct(row.pck[a] ?? 0) : '-').padStart(9)).join('');
      return `    ${`${b.from.toFixed(1)}-${b.to.toFixed(1)}`.padEnd(12)} ${String(b.points).padStart(6)}  ${b.points ? b.meanConfidence.toFixed(2).padStart(5) : '    -'}  ${cells(b)}   ${`>= ${up.from.toFixed(1)}`.padEnd(11)} ${String(up.points).padStart(6)}  ${cells(up)}`;
    }),
    '  per keypoint:',
    ...r.perKeypoint.map(
      (k) =>
        `    ${k.name.padEnd(16)} ${String(k.points).padStart(4)} pts  ${r.alphas.map((a) => `@${a} ${pct(k.pck[String(a)]).padStart(6)}`).join('  ')}  mean confidence ${k.meanConfidence.toFixed(2)}`,
    ),
    '  per image:',
    ...r.perImage.map(
      (i) => `    ${i.path.padEnd(32)} ${String(i.points).padStart(3)} pts  ${r.alphas.map((a) => `@${a} ${pct(i.pck[String(a)]).padStart(6)}`).join('  ')}  ${i.seconds.toFixed(2)} s`,
    ),
  ];
  return lines.join('\n');
}

export function registerSuggestCommands(program: Command): void {
  featureOptions(
    program
      .command('suggest')
      .description("suggested keypoints for an image from its category's labelled images (writes nothing)")
      .requiredOption('--image <IMG>', 'image id, its path as the dataset lists it, or its absolute path')
      .option('--category <name>', "the category (default: the image's, or the only one with a keypoint schema)")
      .option('--exemplars <list>', "all | IMG,IMG,... (the category's labelled images to match from)", 'all')
      .option('--json <file>', 'also write {image, category, prompt, keypoints: [{name, x, y, confidence, visible}]}'),
  ).action(async (o: FeatureOptions & { image: string; exemplars: string; json?: string }, cmd: Command) => {
    const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
    const task = cliTask();
    try {
      const ds = svc.repos.datasets.resolve(o.dataset);
      const imageId = resolveImage(svc, ds, o.image);
      const categoryId = categoryOf(svc, ds, o.category, imageId);
      const exemplarIds =
        o.exemplars.trim() === 'all'
          ? undefined
          : o.exemplars
              .split(',')
              .filter((s) => s.trim())
              .map((s) => resolveImage(svc, ds, s));
      const plan = await planSuggestion(svc, planInputOf(o, categoryId, { imageIds: [imageId], exemplarIds }));
      const r = await previewSuggestionsInProcess(processRunner(sourceJobRuntime()), svc, plan, task);
      task.finish();
      const set = r.sets[0];
      const image = plan.targets[0].path;
      process.stdout.write(`${image} (${plan.category}, ${plan.promptName}, ${set.exemplars.length} exemplar(s), ${set.seconds.toFixed(2)} s)\n`);
      for (const k of set.keypoints) {
        process.stdout.write(
          `  ${k.name.padEnd(16)} x ${k.x.toFixed(1).padStart(7)}  y ${k.y.toFixed(1).padStart(7)}  confidence ${k.confidence.toFixed(2)}  ${k.visible ? 'visible' : 'not visible'}\n`,
        );
      }
      const missing = plan.schema.filter((_, kp) => !set.keypoints.some((k) => k.kp === kp));
      if (missing.length) process.stdout.write(`  no exemplar has: ${missing.join(', ')}\n`);
      if (o.json) {
        writeJson(o.json, {
          image,
          imageId,
          category: plan.category,
          prompt: plan.promptName,
          exemplars: set.exemplars,
          keypoints: set.keypoints.map((k) => ({ name: k.name, x: k.x, y: k.y, confidence: k.confidence, visible: k.visible })),
        });
      }
    } finally {
      task.finish();
      svc.close();
    }
  });

  featureOptions(
    program
      .command('suggest-eval')
      .description('how good suggestions are: some labelled images as exemplars, the rest as if unlabelled (PCK, accepted unchanged, time)')
      .option('--category <name>', 'the category (default: every category with a schema and at least two labelled images)')
      .option('--exemplars <N>', 'the first N labelled images (by path) are exemplars', parseIntOption('--exemplars'))
      .option('--exemplar-images <list>', 'IMG,IMG,...: these labelled images are exemplars')
      .option('--limit <N>', 'evaluate at most N images per category', parseIntOption('--limit'))
      .option('--accept-threshold <c>', 'confidence from which a suggestion counts as accepted', parseFloatOption('--accept-threshold'), SUGGEST_DEFAULTS.acceptThreshold)
      .option('--json <file>', 'also write the reports as JSON'),
  ).action(async (o: FeatureOptions & { exemplars?: number; exemplarImages?: string; limit?: number; acceptThreshold: number; json?: string }, cmd: Command) => {
    if ((o.exemplars === undefined) === (o.exemplarImages === undefined)) throw new AppError('INVALID_ARGUMENT', 'give one of --exemplars N or --exemplar-images IMG,...');
    if (o.exemplars !== undefined && o.exemplars < 1) throw new AppError('INVALID_ARGUMENT', `--exemplars must be at least 1, got ${o.exemplars}`);
    const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
    const task = cliTask();
    try {
      const ds = svc.repos.datasets.resolve(o.dataset);
      const exemplarIds = o.exemplarImages
        ?.split(',')
        .filter((s) => s.trim())
        .map((s) => resolveImage(svc, ds, s));
      const categories = o.category
        ? [requireCategory(svc, ds.id, ds.name, o.category)]
        : svc.repos.datasets
            .categories(ds.id)
            .filter((c) => c.keypoints.length > 0 && svc.repos.images.imagesOfCategory(ds.id, c.id).filter((i) => i.labelled).length >= 2)
            .map((c) => c.id);
      if (categories.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no category with a keypoint schema and two labelled images`);
      // every plan is checked before any work starts
      const plans = [];
      for (const categoryId of categories) {
        const plan = await planSuggestion(svc, planInputOf(o, categoryId, { exemplarIds }), { evalExemplars: o.exemplars ?? 0, limit: o.limit });
        plans.push(plan);
      }
      const reports: SuggestEvalReport[] = [];
      for (const plan of plans) {
        const r = await evaluateSuggestionsInProcess(processRunner(sourceJobRuntime()), svc, plan, o.acceptThreshold, task);
        reports.push(r);
        task.finish();
        process.stdout.write(`${formatSuggestEval(r)}\n`);
      }
      if (reports.length > 1) {
        const mean = (f: (r: SuggestEvalReport) => number) => reports.reduce((t, r) => t + f(r), 0) / reports.length;
        process.stdout.write(
          `mean over ${reports.length} categories: PCK ${reports[0].alphas.map((a) => `@${a} ${pct(mean((r) => r.pck[String(a)]))}`).join('  ')}  accepted unchanged ${pct(mean((r) => r.acceptedUnchanged))}  ${mean((r) => r.secondsPerImage).toFixed(2)} s per image\n`,
        );
      }
      if (o.json) {
        writeJson(o.json, { dataset: ds.name, reports });
      }
    } finally {
      task.finish();
      svc.close();
    }
  });

  featureOptions(
    program
      .command('suggest-queue')
      .description("the category's unannotated images in the order to label them (low suggestion confidence, unlike the labelled images)")
      .requiredOption('--category <name>', 'the category')
      .option('--json <file>', 'also write the queue as JSON'),
  ).action(async (o: FeatureOptions & { category: string; json?: string }, cmd: Command) => {
    const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
    const task = cliTask();
    try {
      const ds = svc.repos.datasets.resolve(o.dataset);
      const categoryId = requireCategory(svc, ds.id, ds.name, o.category);
      const plan = await planSuggestion(svc, planInputOf(o, categoryId, {}));
      const r = await previewSuggestionsInProcess(processRunner(sourceJobRuntime()), svc, plan, task);
      task.finish();
      const d = (id: number): Float32Array | null => (r.descriptors[id] ? Float32Array.from(r.descriptors[id]) : null);
      const ranked = rankQueue(
        r.sets.map((s) => ({ id: s.imageId, confidence: schemaConfidence(s.keypoints, plan.schema.length), descriptor: d(s.imageId) })),
        plan.exemplars.map((e) => d(e.imageId)).filter((x) => x !== null),
      );
      const pathOf = new Map(plan.targets.map((t) => [t.imageId, t.path]));
      ranked.forEach((q, i) => process.stdout.write(`${String(i + 1).padStart(4)}  ${pathOf.get(q.id)}  score ${q.score.toFixed(3)}  (${q.reason})\n`));
      if (o.json) {
        writeJson(o.json, {
          category: plan.category,
          prompt: plan.promptName,
          items: ranked.map((q) => ({ imageId: q.id, path: pathOf.get(q.id), score: q.score, confidence: q.confidence, novelty: q.novelty, reason: q.reason })),
        });
      }
    } finally {
      task.finish();
      svc.close();
    }
  });
}

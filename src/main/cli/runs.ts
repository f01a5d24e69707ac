/**
 * `sd4match eval` and `sd4match train`: the PCK protocol and prompt tuning, recorded in the store.
 * The work runs in a job process this command supervises (engine/jobs/job-process.ts), so that if
 * the kernel kills it for memory the command still says what happened, marks the run failed and
 * prints how to resume it, instead of vanishing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../shared/errors.js';
import type { EvalReport, Frame } from '../engine/sd4match/matching/evaluate.js';
import { MATCH_METHODS, type MatchMethod } from '../engine/sd4match/matching/matching.js';
import type { PromptKind } from '../engine/sd4match/prompts/prompts.js';
import { type Schedule, TRAIN_DEFAULTS as D } from '../engine/sd4match/training/train-config.js';
import { FEATURE_DEFAULTS } from '../contract/runs.js';
import { sourceJobRuntime } from '../services/jobs/runtime.js';
import type { EvalTaskArgs } from '../services/evaluation/task.js';
import { evaluateReportInProcess } from '../services/evaluation/evaluations.js';
import { processRunner } from '../services/jobs/tasks.js';
import { trainInProcess } from '../services/training/training.js';
import { sweepInProcess } from '../services/sweeps/sweeps.js';
import { openServices, type Services } from '../services/app/context.js';
import type { TrainArgs, TrainRequest } from '../services/training/train.js';
import type { Split } from '../store/repositories/datasets.js';
import { cliTask, formatSeconds, parseFloatOption, parseIntOption } from './common.js';
import { parsePromptArg } from './models.js';
import { parseIntList } from './generate.js';
import { describePrompt } from '../engine/sd4match/features/pipeline.js';
import { SWEEP_TIMESTEPS } from '../contract/generate.js';
import { planSweep } from '../services/sweeps/plan.js';
import { DEFAULT_FUSION_WEIGHT, FEATURE_SOURCES, type FeatureSource, requireFeatureInputs } from '../engine/sd4match/features/fusion.js';

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}`;
}

/** The table the CLI prints: method x alpha, then per category for the first method. */
export function formatEvalReport(r: EvalReport): string {
  const lines: string[] = [];
  lines.push(`${r.prompt}: ${r.pairs} pairs, ${r.points} keypoints, PCK (%) per image in the ${r.frame} frame, provider ${r.provider}, ${r.seconds.toFixed(1)} s`);
  const head = ['method', ...r.alphas.map((a) => `@${a}`)];
  const rows = r.methods.map((m) => [m, ...r.alphas.map((a) => pct(r.pck[m][String(a)].image))]);
  const widths = head.map((_, i) => Math.max(head[i].length, ...rows.map((x) => x[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt));
  const m = r.methods[0];
  const cats = Object.keys(r.pck[m][String(r.alphas[0])].categories);
  if (cats.length > 1) {
    lines.push('', `per category (${m})`);
    const ch = ['category', ...r.alphas.map((a) => `@${a}`)];
    const crow = cats.map((c) => [c, ...r.alphas.map((a) => pct(r.pck[m][String(a)].categories[c]))]);
    const cw = ch.map((_, i) => Math.max(ch[i].length, ...crow.map((x) => x[i].length)));
    const cf = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(cw[i]) : c.padStart(cw[i]))).join('  ');
    lines.push(cf(ch), cw.map((w) => '-'.repeat(w)).join('  '), ...crow.map(cf));
  }
  const flags = r.pck[m][String(r.alphas[Math.min(1, r.alphas.length - 1)])].flags;
  if (Object.keys(flags).length) {
    lines.push('', `per SPair difficulty flag (${m}, PCK@${r.alphas[Math.min(1, r.alphas.length - 1)]})`);
    for (const [f, levels] of Object.entries(flags))
      lines.push(
        `  ${f.padEnd(11)} ${Object.entries(levels)
          .map(([l, v]) => `${l}: ${pct(v)}`)
          .join('   ')}`,
      );
  }
  lines.push(`cache: ${(100 * r.cache.hitRate).toFixed(0)}% hits (${r.cache.hits}/${r.cache.hits + r.cache.misses})`);
  return lines.join('\n');
}

/** How the command says to go on with a training run whose process died. */
const RESUME_HINT = { resumeHint: (id: number) => `resume it with: sd4match train --resume ${id}` };

/** A sweep's table: PCK (kernel soft-argmax, per image) at each timestep, from its stored runs. */
function formatSweep(svc: Services, prompt: string, runs: { runId: number | null; timestep: number }[]): string {
  const head = ['timestep', '@0.05', '@0.1', '@0.15'];
  const rows = runs.map((r) => [
    String(r.timestep),
    ...['0.05', '0.1', '0.15'].map((a) => {
      const v = r.runId === null ? undefined : svc.repos.runs.metricSeries(r.runId, `pck/kernelsoftmax/${a}`).at(-1)?.value;
      return v === undefined ? '-' : pct(v);
    }),
  ]);
  const widths = head.map((_, i) => Math.max(head[i].length, ...rows.map((x) => x[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  // the provider each evaluation ran on, as its run recorded it (the job process's, not this one's)
  const providers = [...new Set(runs.flatMap((r) => (r.runId === null ? [] : [svc.repos.runs.get(r.runId)?.provider ?? null])).filter((p): p is string => !!p))];
  return [
    `${prompt}: PCK (%) per image against the timestep (kernel soft-argmax), provider ${providers.join(', ') || 'none ran'}`,
    fmt(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(fmt),
  ].join('\n');
}

export function registerRunCommands(program: Command): void {
  program
    .command('eval')
    .description('PCK of a prompt on a dataset split, as the paper measures it (table per method and alpha, and per category)')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder')
    .option('--dino-dir <dir>', 'DINOv2 folder (CPM prompts, the DINOv2 baseline)')
    .requiredOption('--dataset <name>', 'dataset name or id (see `datasets list`)')
    .option('--split <split>', 'trn | val | test', 'test')
    .option('--category <name>', 'only this category')
    .option('--prompt <p>', 'empty | template | template:<text with {category}> | dino | a prompt file', 'empty')
    .option('--features <f>', `${FEATURE_SOURCES.join(' | ')}: SD features (the prompt's), DINOv2 resampled to the SD grid, or both fused`, 'sd')
    .option('--fusion-weight <w>', "SD's share w in sd+dino (DINOv2 gets 1 - w)", parseFloatOption('--fusion-weight'), DEFAULT_FUSION_WEIGHT)
    .option('--timestep <t>', 'diffusion timestep', parseIntOption('--timestep'), FEATURE_DEFAULTS.timestep)
    .option('--timesteps <list>', `a timestep sweep instead: one evaluation per timestep (e.g. ${SWEEP_TIMESTEPS.join(',')}), PCK against t`, parseIntList('--timesteps'))
    .option('--ensemble <K>', 'noise draws averaged per image', parseIntOption('--ensemble'), FEATURE_DEFAULTS.ensemble)
    .option('--size <S>', 'image size', parseIntOption('--size'), FEATURE_DEFAULTS.size)
    .option('--seed <n>', 'seed of every random draw', parseIntOption('--seed'), FEATURE_DEFAULTS.seed)
    .option('--frame <frame>', 'resized (the paper) | original', 'resized')
    .option('--methods <list>', `comma-separated subset of ${MATCH_METHODS.join(',')}`, MATCH_METHODS.join(','))
    .option('--limit <N>', 'only the first N pairs', parseIntOption('--limit'))
    .option('--json <file>', 'also write the full report (per pair included) as JSON')
    .action(
      async (
        o: {
          modelDir: string;
          dinoDir?: string;
          dataset: string;
          split: string;
          category?: string;
          prompt: string;
          features: string;
          fusionWeight: number;
          timestep: number;
          timesteps?: number[];
          ensemble: number;
          size: number;
          seed: number;
          frame: string;
          methods: string;
          limit?: number;
          json?: string;
        },
        cmd: Command,
      ) => {
        if (!['trn', 'val', 'test'].includes(o.split)) throw new AppError('INVALID_ARGUMENT', `--split must be trn, val or test, got '${o.split}'`);
        if (o.frame !== 'resized' && o.frame !== 'original') throw new AppError('INVALID_ARGUMENT', `--frame must be resized or original, got '${o.frame}'`);
        const methods = o.methods.split(',').map((s) => s.trim()) as MatchMethod[];
        for (const m of methods) if (!MATCH_METHODS.includes(m)) throw new AppError('INVALID_ARGUMENT', `unknown matching method '${m}' (${MATCH_METHODS.join(', ')})`);
        const features = { features: o.features as FeatureSource, weight: o.fusionWeight };
        // a missing DINOv2 folder or a wrong choice is said before any model is opened
        requireFeatureInputs(features, parsePromptArg(o.prompt), !!o.dinoDir);
        if (o.timesteps && features.features !== 'sd') throw new AppError('INVALID_ARGUMENT', '--timesteps sweeps SD features over the timestep: it takes --features sd only');
        const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
        const task = cliTask();
        try {
          if (o.timesteps) {
            const spec = parsePromptArg(o.prompt);
            const ds = svc.repos.datasets.resolve(o.dataset);
            const plan = planSweep(svc, {
              modelDir: path.resolve(o.modelDir),
              dinoDir: o.dinoDir && path.resolve(o.dinoDir),
              datasetId: ds.id,
              split: o.split as Split,
              category: o.category,
              limit: o.limit,
              size: o.size,
              ensemble: o.ensemble,
              seed: o.seed,
              timesteps: o.timesteps,
              prompts: [{ spec, name: describePrompt(spec) }],
            });
            const r = await sweepInProcess(processRunner(sourceJobRuntime()), svc, plan, task, RESUME_HINT);
            task.finish();
            process.stdout.write(`${formatSweep(svc, describePrompt(spec), r.runs)}
sweep ${r.sweepId}: runs ${r.runs.map((x) => x.runId).join(', ')}
`);
            if (o.json) {
              fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
              fs.writeFileSync(o.json, JSON.stringify(r, null, 2));
              process.stdout.write(`wrote ${o.json}\n`);
            }
            return;
          }
          const args: EvalTaskArgs = {
            modelDir: o.modelDir,
            dinoDir: o.dinoDir,
            dataset: o.dataset,
            split: o.split as Split,
            category: o.category,
            prompt: parsePromptArg(o.prompt),
            features,
            timestep: o.timestep,
            ensemble: o.ensemble,
            size: o.size,
            seed: o.seed,
            frame: o.frame as Frame,
            limit: o.limit,
            methods,
          };
          const r = await evaluateReportInProcess(processRunner(sourceJobRuntime()), svc, args, task, RESUME_HINT);
          task.finish();
          process.stdout.write(`${formatEvalReport(r.report)}\nrun ${r.runId}\n`);
          if (o.json) {
            fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
            fs.writeFileSync(o.json, JSON.stringify({ runId: r.runId, ...r.report }, null, 2));
            process.stdout.write(`wrote ${o.json}\n`);
          }
        } finally {
          task.finish();
          svc.close();
        }
      },
    );

  program
    .command('train')
    .description('tune an SD4Match prompt (Single, Class or CPM) on a dataset; live progress, checkpoints, resume')
    .option('--model-dir <dir>', 'Stable Diffusion folder')
    .option('--dino-dir <dir>', 'DINOv2 folder (CPM)')
    .option('--dataset <name>', 'dataset name or id (its trn split trains, val validates)')
    .option('--prompt <kind>', 'single | class | cpm', 'single')
    .option('--category <name>', 'train on one category only')
    .option('--steps <N>', `optimizer steps (the paper: ${D.steps})`, parseIntOption('--steps'), D.steps)
    .option('--batch <B>', `pairs per step (the paper: ${D.batch})`, parseIntOption('--batch'), D.batch)
    .option('--lr <lr>', `learning rate (the paper: ${D.lr}; CPM linear layers at x${D.linearLrScale})`, parseFloatOption('--lr'), D.lr)
    .option('--schedule <s>', 'constant | linear | cosine', D.schedule)
    .option('--accumulate <n>', 'micro-batches per step (gradient accumulation)', parseIntOption('--accumulate'), D.accumulate)
    .option('--timestep <t>', `diffusion timestep (the paper: ${D.timestep})`, parseIntOption('--timestep'), D.timestep)
    .option('--size <S>', `image size (the paper: ${D.size})`, parseIntOption('--size'), D.size)
    .option('--val-every <N>', 'validate PCK@0.1 every N steps, keep the best prompt (0: never)', parseIntOption('--val-every'), D.valEvery)
    .option('--val-pairs <N>', 'validation pairs (0: all)', parseIntOption('--val-pairs'), D.valPairs)
    .option('--checkpoint-every <N>', 'checkpoint every N steps', parseIntOption('--checkpoint-every'), D.checkpointEvery)
    .option('--seed <n>', 'seed of every random draw', parseIntOption('--seed'), D.seed)
    .option('--resume <run>', 'continue a paused, cancelled or interrupted run bit-exactly', parseIntOption('--resume'))
    .option('--name <text>', 'run name')
    .option('--out <file>', 'prompt file to write (safetensors; default: in the run folder)')
    .action(async (o: Record<string, string | number | undefined>, cmd: Command) => {
      const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
      const task = cliTask();
      try {
        if (o.resume === undefined) {
          for (const k of ['modelDir', 'dataset'] as const) if (!o[k]) throw new AppError('INVALID_ARGUMENT', `--${k === 'modelDir' ? 'model-dir' : k} is required (unless --resume)`);
          if (!['single', 'class', 'cpm'].includes(String(o.prompt))) throw new AppError('INVALID_ARGUMENT', `--prompt must be single, class or cpm, got '${o.prompt}'`);
          if (!['constant', 'linear', 'cosine'].includes(String(o.schedule))) throw new AppError('INVALID_ARGUMENT', `--schedule must be constant, linear or cosine, got '${o.schedule}'`);
        }
        const args: TrainArgs | null =
          o.resume === undefined
            ? {
                modelDir: String(o.modelDir),
                dinoDir: o.dinoDir ? String(o.dinoDir) : undefined,
                dataset: String(o.dataset),
                prompt: String(o.prompt) as PromptKind,
                category: o.category ? String(o.category) : undefined,
                steps: Number(o.steps),
                batch: Number(o.batch),
                lr: Number(o.lr),
                schedule: String(o.schedule) as Schedule,
                accumulate: Number(o.accumulate),
                timestep: Number(o.timestep),
                size: Number(o.size),
                valEvery: Number(o.valEvery),
                valPairs: Number(o.valPairs),
                checkpointEvery: Number(o.checkpointEvery),
                seed: Number(o.seed),
                out: o.out ? path.resolve(String(o.out)) : undefined,
                name: o.name ? String(o.name) : undefined,
              }
            : null;
        // narrate: the task logs the run's start and validations as lines for this terminal
        const request: TrainRequest = args ? { kind: 'new', args } : { kind: 'resume', runId: Number(o.resume) };
        const r = await trainInProcess(processRunner(sourceJobRuntime()), svc, request, task, { ...RESUME_HINT, narrate: true });
        task.finish();
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
        process.stdout.write(
          [
            `run ${r.runId} finished: ${r.steps} steps in ${formatSeconds(r.seconds)} (${(r.stepsRun / Math.max(r.seconds, 1e-9)).toFixed(2)} steps/s), provider ${r.provider}`,
            `loss ${r.stepsRun ? `${mean(r.lossHead).toFixed(4)} (first ${r.lossHead.length} steps) -> ${mean(r.lossTail).toFixed(4)} (last ${r.lossTail.length})` : 'n/a'}`,
            r.bestPck !== null ? `best validation PCK@0.1 ${(100 * r.bestPck).toFixed(1)}% at step ${r.bestStep}` : 'no validation',
            `prompt ${r.promptFile} (stored as prompt ${r.promptId})`,
          ].join('\n') + '\n',
        );
      } finally {
        task.finish();
        svc.close();
      }
    });
}

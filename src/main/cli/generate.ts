/**
 * `sd4match generate`: images Stable Diffusion generates from a prompt (a learned prompt file or a
 * stored prompt, a baseline, or free text), through the same service as the app: checked whole
 * before anything runs, generated in a supervised job process, stored in the database's cache
 * (asking again is instant) and copied to --out as PNGs whose paths are printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { GenerateSource } from '../contract/index.js';
import { GENERATE_DEFAULTS } from '../contract/generate.js';
import { DEFAULT_TEMPLATE, loadLearnedPrompt, templateText } from '../engine/sd4match/prompts/prompts.js';
import { openServices, type Services } from '../services/app/context.js';
import { GENERATED_DIR, planGeneration } from '../services/generate/plan.js';
import { sourceJobRuntime } from '../services/jobs/runtime.js';
import { processRunner } from '../services/jobs/tasks.js';
import { generateInProcess } from '../services/generate/generate.js';
import { storeLearnedPrompt } from '../services/runs/records.js';
import { AppError } from '../shared/errors.js';
import { cliTask, parseFloatOption, parseIntOption } from './common.js';

/** A comma-separated list of non-negative integers (`--seeds 0,1,2`). */
export function parseIntList(name: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    return parts.map((s) => {
      if (!/^\d+$/.test(s)) throw new AppError('INVALID_ARGUMENT', `${name}: '${s}' is not a non-negative integer (give e.g. 0,1,2)`);
      return Number(s);
    });
  };
}

/** What --prompt / --text name, as the service's source. */
function sourceOf(svc: Services, o: { prompt?: string; text?: string; category?: string; pair?: number }): GenerateSource {
  if (o.text !== undefined && o.prompt !== undefined) throw new AppError('INVALID_ARGUMENT', 'give either --prompt or --text, not both');
  if (o.text !== undefined) return { text: o.text };
  const p = o.prompt;
  if (p === undefined) throw new AppError('INVALID_ARGUMENT', 'give --prompt (empty, template, a prompt file or a stored prompt id) or --text');
  if (p === 'empty') return { text: '' };
  if (p === 'template' || p.startsWith('template:')) {
    const template = p === 'template' ? DEFAULT_TEMPLATE : p.slice('template:'.length);
    const category = o.category ?? (o.pair !== undefined ? svc.repos.pairs.get(o.pair)?.category : undefined);
    if (!category) throw new AppError('INVALID_ARGUMENT', `--prompt ${p} needs --category (or --pair) for "${template}"`);
    return { text: templateText(template, category) };
  }
  if (p === 'dino') throw new AppError('INVALID_ARGUMENT', '--prompt dino: DINOv2 features are not a text prompt; there is nothing to generate from');
  let promptId: number;
  if (/^\d+$/.test(p)) promptId = Number(p);
  else if (fs.existsSync(p)) promptId = -1;
  else throw new AppError('NOT_FOUND', `--prompt: '${p}' is neither empty, template, a stored prompt id nor an existing prompt file (free text goes in --text)`);
  return { promptId, ...(o.category ? { category: o.category } : {}), ...(o.pair !== undefined ? { pairId: o.pair } : {}) };
}

function slug(s: string): string {
  return (
    s
      .replace(/[^\w.-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 60) || 'empty'
  );
}

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('images Stable Diffusion generates from a prompt (DDIM, classifier-free guidance), stored in the cache and written as PNGs')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder (optimum layout, with vae_decoder and tokenizer)')
    .option('--dino-dir <dir>', 'DINOv2 folder (CPM prompts)')
    .option('--prompt <p>', 'empty | template | template:<text with {category}> | a prompt file | a stored prompt id')
    .option('--text <text>', 'free text to generate from (instead of --prompt)')
    .option('--category <name>', 'the category of a Class prompt or the template')
    .option('--pair <id>', 'the pair a CPM prompt is conditioned on (see `datasets show`)', parseIntOption('--pair'))
    .option('--seeds <list>', 'seeds of the initial noise, one image each', parseIntList('--seeds'), [...GENERATE_DEFAULTS.seeds])
    .option('--steps <N>', 'DDIM steps', parseIntOption('--steps'), GENERATE_DEFAULTS.steps)
    .option('--guidance <g>', 'classifier-free guidance scale', parseFloatOption('--guidance'), GENERATE_DEFAULTS.guidance)
    .option('--size <S>', "image side in pixels (default: the model's own, 768 for SD 2-1)", parseIntOption('--size'))
    .requiredOption('--out <dir>', 'where the PNGs are written')
    .action(
      async (
        o: { modelDir: string; dinoDir?: string; prompt?: string; text?: string; category?: string; pair?: number; seeds: number[]; steps: number; guidance: number; size?: number; out: string },
        cmd: Command,
      ) => {
        if (o.steps < 1) throw new AppError('INVALID_ARGUMENT', `--steps must be at least 1, got ${o.steps}`);
        if (o.guidance < 0) throw new AppError('INVALID_ARGUMENT', `--guidance must be >= 0, got ${o.guidance}`);
        const svc = openServices((cmd.optsWithGlobals() as { db?: string }).db);
        const task = cliTask();
        try {
          const modelDir = path.resolve(o.modelDir);
          let source = sourceOf(svc, o);
          const modelId = svc.repos.models.list().find((m) => m.folder === modelDir)?.id ?? null;
          if ('promptId' in source && source.promptId === -1) {
            // a prompt file is recorded like `eval` records it, so its images attach to a stored
            // prompt; what the plan would refuse is refused first, so a bad request records nothing
            const learned = loadLearnedPrompt(path.resolve(o.prompt!));
            if (learned.meta.kind === 'class' && (!o.category || !learned.meta.categories.includes(o.category))) {
              throw new AppError('INVALID_ARGUMENT', `${o.prompt} is a Class prompt: give --category, one of ${learned.meta.categories.join(', ')}`);
            }
            if (learned.meta.kind === 'cpm' && (o.pair === undefined || !o.dinoDir))
              throw new AppError('INVALID_ARGUMENT', `${o.prompt} is a CPM prompt, conditioned on an image pair: give --pair and --dino-dir`);
            if (o.pair !== undefined && !svc.repos.pairs.get(o.pair)) throw new AppError('NOT_FOUND', `--pair: no pair with id ${o.pair}`);
            source = { ...source, promptId: await storeLearnedPrompt(svc, learned, { modelId }) };
          }
          const plan = planGeneration(svc, { modelDir, modelId, dinoDir: o.dinoDir && path.resolve(o.dinoDir), sources: [source], seeds: o.seeds, steps: o.steps, guidance: o.guidance, size: o.size });
          if (plan.todo.length > 0) await generateInProcess(processRunner(sourceJobRuntime()), svc, plan, task);
          task.finish();
          const stored = svc.repos.generated.byKeys(plan.keys[0]);
          fs.mkdirSync(o.out, { recursive: true });
          const label = slug(plan.sources[0].label);
          plan.keys[0].forEach((key, j) => {
            const r = stored.get(key);
            if (!r) throw new AppError('INTERNAL', `the image for seed ${plan.seeds[j]} was not stored`);
            const file = path.join(o.out, `${label}-seed${plan.seeds[j]}.png`);
            fs.copyFileSync(path.join(svc.cacheDir, r.path), file);
            process.stdout.write(`${file}\n`);
          });
          const cached = plan.keys[0].length - plan.todo.length;
          process.stderr.write(
            `${plan.keys[0].length} image${plan.keys[0].length > 1 ? 's' : ''} at ${plan.size} px, ${plan.steps} steps, guidance ${plan.guidance}${cached ? ` (${cached} from the cache in ${path.join(svc.cacheDir, GENERATED_DIR)})` : ''}\n`,
          );
        } finally {
          task.finish();
          svc.close();
        }
      },
    );
}

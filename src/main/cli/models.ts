/** `sd4match models ...` and `sd4match match`: model folders, and matching points between two images. */
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../shared/errors.js';
import { FEATURE_DEFAULTS } from '../contract/runs.js';
import { TensorCache } from '../engine/cache/tensor-cache.js';
import { probeSdParts, sdCapabilities } from '../engine/models/capabilities.js';
import { CAPABILITY_VERBS, type CapabilityName } from '../engine/models/facts.js';
import { MATCH_METHODS, type MatchMethod, matchKeypoints } from '../engine/sd4match/matching/matching.js';
import { inspectDinoFolder, inspectSdFolder } from '../engine/sd4match/model/model-folder.js';
import { type ImageRef, Pipeline, type PromptSpec } from '../engine/sd4match/features/pipeline.js';
import { frameSize } from '../engine/images/orientation.js';
import { SdModel } from '../engine/sd4match/model/sd-model.js';
import { drawMatches } from '../engine/sd4match/matching/visualize.js';
import { SessionCache } from '../engine/onnx/session-cache.js';
import { probeProvider } from '../engine/onnx/runtime.js';
import { resolveStoreLocation } from '../store/paths.js';
import { cliTask, parseIntOption } from './common.js';
import sharp from 'sharp';
import fs from 'node:fs';
import crypto from 'node:crypto';

export function cacheDirFor(cmd: Command, explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  return resolveStoreLocation((cmd.optsWithGlobals() as { db?: string }).db).cacheDir;
}

/** `empty`, `template`, `template:<text with {category}>`, `dino`, or a prompt file. */
export function parsePromptArg(v: string): PromptSpec {
  if (v === 'empty') return { kind: 'empty' };
  if (v === 'template') return { kind: 'template' };
  if (v.startsWith('template:')) return { kind: 'template', template: v.slice('template:'.length) };
  if (v === 'dino') return { kind: 'dino' };
  if (!fs.existsSync(v)) throw new AppError('NOT_FOUND', `--prompt: '${v}' is neither empty, template, dino nor an existing prompt file`);
  return { kind: 'file', file: path.resolve(v) };
}

export function parsePoints(v: string): [number, number][] {
  const pts = v
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => {
      const m = /^(-?[\d.]+)\s*,\s*(-?[\d.]+)$/.exec(s);
      if (!m) throw new AppError('INVALID_ARGUMENT', `--points entry ${i + 1} '${s}' is not 'x,y'`);
      return [Number(m[1]), Number(m[2])] as [number, number];
    });
  if (!pts.length) throw new AppError('INVALID_ARGUMENT', '--points is empty; give "x,y;x,y"');
  return pts;
}

/**
 * An image reference keyed by content hash. A file named on the command line has no dataset, so
 * it is read in the displayed frame (EXIF orientation applied, as a photo viewer shows it): the
 * points given and printed are in that frame (images/orientation.ts).
 */
export async function imageRef(file: string): Promise<ImageRef & { orient: true }> {
  if (!fs.existsSync(file)) throw new AppError('NOT_FOUND', `${file}: no such image`);
  const meta = await sharp(file)
    .metadata()
    .catch((e: Error) => {
      throw new AppError('INVALID_ARGUMENT', `${file}: cannot be decoded as an image (${e.message})`);
    });
  const key = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 32);
  return { file: path.resolve(file), key, ...frameSize(meta, true), orient: true };
}

export function registerModelCommands(program: Command): void {
  const models = program.command('models').description('Stable Diffusion and DINOv2 model folders: validate and compile');

  models
    .command('validate')
    .description('check a model folder: files present, input/output names, dtypes, dimensions agree across parts')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder (optimum layout)')
    .option('--dino-dir <dir>', 'DINOv2 folder')
    .option('--json', 'print JSON')
    .action(async (o: { modelDir: string; dinoDir?: string; json?: boolean }) => {
      const sd = inspectSdFolder(o.modelDir);
      const dino = o.dinoDir ? inspectDinoFolder(o.dinoDir, { inferWidth: true }) : null;
      const provider = await probeProvider();
      // what the folder can do (CPM needs the DINOv2 folder given here)
      const capabilities = sdCapabilities(probeSdParts(sd.dir), { registered: dino !== null });
      const report = {
        sd: { dir: sd.dir, hiddenSize: sd.hiddenSize, latentChannels: sd.latentChannels, scalingFactor: sd.scalingFactor, tokenizer: !!sd.tokenizer, warnings: sd.warnings, capabilities },
        dino: dino ? { dir: dino.dir, hiddenSize: dino.hiddenSize } : null,
        provider: provider.provider,
        providerAttempts: provider.attempts,
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${sd.dir}: OK (text width ${sd.hiddenSize}, ${sd.latentChannels} latent channels, scaling factor ${sd.scalingFactor}, tokenizer ${sd.tokenizer ? 'yes' : 'no'})\n`);
      for (const w of sd.warnings) process.stdout.write(`  warning: ${w}\n`);
      for (const [c, v] of Object.entries(capabilities)) if (!v.ok) process.stdout.write(`  cannot ${CAPABILITY_VERBS[c as CapabilityName]}: ${v.reason}\n`);
      if (dino) process.stdout.write(`${dino.dir}: OK (DINOv2 width ${dino.hiddenSize})\n`);
      process.stdout.write(
        `execution provider: ${provider.provider}${provider.attempts
          .filter((a) => !a.ok)
          .map((a) => ` (${a.provider}: ${a.reason})`)
          .join('')}\n`,
      );
    });

  models
    .command('compile')
    .description('compile the UNet feature graph and the text-encoder graphs (cached by content hash)')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder')
    .option('--cache-dir <dir>', 'cache folder (default: beside the database)')
    .action(function (this: Command, o: { modelDir: string; cacheDir?: string }) {
      const task = cliTask();
      try {
        const sd = SdModel.open(o.modelDir, { cacheDir: cacheDirFor(this, o.cacheDir), task });
        process.stdout.write(`compiled ${sd.folder.dir}\n  key ${sd.compiled.key}\n  ${sd.compiled.unetFeatures}\n  ${sd.compiled.textFromEmbeds}\n  ${sd.compiled.embed}\n`);
      } finally {
        task.finish();
      }
    });

  program
    .command('match')
    .description('match points of a source image on a target image (image pixels in and out)')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder')
    .option('--dino-dir <dir>', 'DINOv2 folder (CPM prompts, DINOv2 baseline)')
    .requiredOption('--src <image>', 'source image')
    .requiredOption('--trg <image>', 'target image')
    .requiredOption('--points <list>', 'source points "x,y;x,y" in source image pixels (as displayed: EXIF orientation applied)')
    .option('--prompt <p>', 'empty | template | template:<text with {category}> | dino | prompt file', 'empty')
    .option('--category <name>', 'category for template and Class prompts', 'object')
    .option('--size <S>', 'image size', parseIntOption('--size'), FEATURE_DEFAULTS.size)
    .option('--timestep <t>', 'timestep', parseIntOption('--timestep'), FEATURE_DEFAULTS.timestep)
    .option('--ensemble <K>', 'noise draws averaged', parseIntOption('--ensemble'), FEATURE_DEFAULTS.ensemble)
    .option('--seed <n>', 'seed', parseIntOption('--seed'), FEATURE_DEFAULTS.seed)
    .option('--method <m>', MATCH_METHODS.join(' | '), 'kernelsoftmax')
    .option('--out <png>', 'draw the matches into this PNG')
    .option('--json', 'print JSON')
    .option('--cache-dir <dir>', 'cache folder')
    .action(async function (this: Command, o: Record<string, string | number | boolean | undefined>) {
      const method = String(o.method) as MatchMethod;
      if (!MATCH_METHODS.includes(method)) throw new AppError('INVALID_ARGUMENT', `--method must be one of ${MATCH_METHODS.join(', ')}`);
      const pts = parsePoints(String(o.points));
      const task = cliTask();
      try {
        const cacheDir = cacheDirFor(this, o.cacheDir as string | undefined);
        const sd = SdModel.open(String(o.modelDir), { cacheDir, task });
        const dino = o.dinoDir ? inspectDinoFolder(String(o.dinoDir)) : null;
        const size = Number(o.size);
        const pipe = new Pipeline(
          sd,
          parsePromptArg(String(o.prompt)),
          { size, timestep: Number(o.timestep), ensemble: Number(o.ensemble), seed: Number(o.seed) },
          new TensorCache(path.join(cacheDir, 'tensors')),
          dino,
        );
        const src = await imageRef(String(o.src));
        const trg = await imageRef(String(o.trg));
        for (const [i, [x, y]] of pts.entries()) {
          if (x < 0 || y < 0 || x > src.width - 1 || y > src.height - 1) {
            throw new AppError('INVALID_ARGUMENT', `point ${i + 1} (${x}, ${y}) lies outside the source image (${src.width}x${src.height})`);
          }
        }
        const feats = await pipe.pairFeatures(src, trg, String(o.category));
        const kps = new Float32Array(pts.flatMap(([x, y]) => [(x * size) / src.width, (y * size) / src.height]));
        const res = await matchKeypoints(
          new SessionCache(),
          { srcFeatures: feats.src, trgFeatures: feats.trg, srcKps: kps, N: pts.length, srcFrame: { h: size, w: size }, trgFrame: { h: size, w: size } },
          [method],
        );
        const m = res.matches[method]!;
        const out = pts.map((p, i) => ({ src: p, match: [(m[2 * i] * trg.width) / size, (m[2 * i + 1] * trg.height) / size] as [number, number] }));
        if (o.json) process.stdout.write(`${JSON.stringify({ method, prompt: pipe.label, matches: out }, null, 2)}\n`);
        else for (const [i, r] of out.entries()) process.stdout.write(`${i + 1}: (${r.src[0].toFixed(1)}, ${r.src[1].toFixed(1)}) -> (${r.match[0].toFixed(1)}, ${r.match[1].toFixed(1)})\n`);
        if (o.out) {
          await drawMatches(
            src.file,
            trg.file,
            out.map((r) => ({ src: r.src, pred: r.match })),
            String(o.out),
            undefined,
            { orient: true },
          );
          if (!o.json) process.stdout.write(`wrote ${o.out}\n`);
        }
        await pipe.dispose();
        await sd.dispose();
      } finally {
        task.finish();
      }
    });
}

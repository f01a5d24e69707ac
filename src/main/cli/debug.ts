/**
 * `sd4match debug ...`: one pipeline stage from explicit tensors (every random draw supplied or
 * seeded), for parity with the reference implementation. Inputs and outputs are .npy files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../shared/errors.js';
import { runVjp } from '../engine/graph/run.js';
import { expectTensor, readNpy, writeNpy } from '../engine/io/npy.js';
import type { HostTensor } from '../engine/onnx/ir.js';
import { SessionCache } from '../engine/onnx/session-cache.js';
import { resolveStoreLocation } from '../store/paths.js';
import { buildCpmGraph, CPM_PARAMS, CPM_DEFAULTS } from '../engine/sd4match/prompts/cpm.js';
import { loadImageForVae } from '../engine/sd4match/features/image.js';
import { buildLossGraph, lossFeeds } from '../engine/sd4match/training/loss.js';
import { MATCH_METHODS, type MatchMethod, matchKeypoints, pckPerPair } from '../engine/sd4match/matching/matching.js';
import { Rng } from '../engine/sd4match/features/random.js';
import { SdModel } from '../engine/sd4match/model/sd-model.js';
import { Generator } from '../engine/sd4match/generation/generate.js';
import { inspectSdFolder } from '../engine/sd4match/model/model-folder.js';
import { singleStep } from '../engine/sd4match/training/debug-step.js';
import { promptHiddenStates } from '../engine/sd4match/prompts/prompts.js';
import { CONTEXT_LENGTH } from '../engine/sd4match/model/tokenizer.js';
import { TRAIN_DEFAULTS } from '../engine/sd4match/training/train-config.js';
import { cliTask, parseFloatOption, parseIntOption } from './common.js';

/** `HxW` -> {h, w}. */
export function parseImageSize(v: string): { h: number; w: number } {
  const m = /^(\d+)x(\d+)$/.exec(v.trim());
  if (!m) throw new AppError('INVALID_ARGUMENT', `--image-size must look like 256x256 (height x width), got '${v}'`);
  return { h: Number(m[1]), w: Number(m[2]) };
}

function cacheDirOf(cmd: Command, explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  const g = cmd.optsWithGlobals() as { db?: string };
  return resolveStoreLocation(g.db).cacheDir;
}

function keypointsArg(file: string, _name: string): { t: HostTensor; B: number; N: number } {
  const t = readNpy(file);
  expectTensor(t, file, 'float32', [null, null, 2]);
  return { t, B: t.dims[0], N: t.dims[1] };
}

function nPtsArg(file: string, B: number, N: number): number[] {
  const t = readNpy(file);
  expectTensor(t, file, ['int64', 'int32'], [B]);
  const v = Array.from(t.data as ArrayLike<number | bigint>, Number);
  v.forEach((n, i) => {
    if (n < 0 || n > N) throw new AppError('INVALID_ARGUMENT', `${file}: entry ${i} is ${n}, outside 0..${N}`);
  });
  return v;
}

/**
 * Says which execution provider the command's sessions ran on (`provider webgpu`): the one
 * `--provider` (or SD4MATCH_PROVIDER) asked for, else what auto chose, so that a parity check
 * against the reference also says what it checked.
 */
function sayProvider(used: readonly (string | null)[]): void {
  const names = [...new Set(used.filter((p): p is string => p !== null))];
  process.stdout.write(`provider ${names.length ? names.join(', ') : 'none (no session was opened)'}\n`);
}

function writeOut(file: string, t: HostTensor): void {
  writeNpy(file, t);
  process.stdout.write(`wrote ${file} ${t.dtype} [${t.dims.join(', ')}]\n`);
}

export function registerDebugCommands(program: Command): void {
  const debug = program.command('debug').description('one pipeline stage from explicit tensors (.npy), for parity with the reference');

  debug
    .command('features')
    .description('SD4Match feature map of one image: VAE -> latent sample -> noise at t -> UNet up_blocks.1 (ensemble mean)')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder (optimum layout)')
    .option('--image <file>', 'an image file (resized to --size; stored pixels: EXIF orientation is ignored, as by the reference)')
    .option('--pixels <file>', '.npy [1, 3, S, S] float32 in [-1, 1] (instead of --image)')
    .option('--size <S>', 'image size when reading --image', parseIntOption('--size'), TRAIN_DEFAULTS.size)
    .option('--encoder-hidden-states <file>', '.npy [1, 77, D] prompt hidden states')
    .option('--prompt <text>', 'a text prompt (instead of --encoder-hidden-states; "" for the empty prompt)')
    .requiredOption('--timestep <t>', `diffusion timestep (${TRAIN_DEFAULTS.valTimestep} at inference, ${TRAIN_DEFAULTS.timestep} in training)`, parseIntOption('--timestep'))
    .option('--vae-eps <file>', '.npy [1, c, S/8, S/8] VAE sampling noise (default: seeded)')
    .option('--noise <file>', '.npy [1, c, S/8, S/8] or [1, K, c, S/8, S/8] diffusion noise (default: seeded)')
    .option('--seed <n>', 'seed for draws not supplied', parseIntOption('--seed'), 0)
    .option('--ensemble <K>', 'noise draws averaged', parseIntOption('--ensemble'), 1)
    .option('--cache-dir <dir>', 'where compiled graphs are cached')
    .option('--save-intermediates <dir>', 'also write latent_parameters.npy and noisy_latents.npy')
    .requiredOption('--out <file>', 'output .npy for the features')
    .action(async function (this: Command, o: Record<string, string | number | undefined>) {
      if (!o.image === !o.pixels) throw new AppError('INVALID_ARGUMENT', 'give exactly one of --image and --pixels');
      if ((o.encoderHiddenStates === undefined) === (o.prompt === undefined)) {
        throw new AppError('INVALID_ARGUMENT', 'give exactly one of --encoder-hidden-states and --prompt');
      }
      const task = cliTask();
      try {
        const sd = SdModel.open(String(o.modelDir), { cacheDir: cacheDirOf(this, o.cacheDir as string | undefined), task });
        let pixels: HostTensor;
        if (o.pixels) {
          pixels = readNpy(String(o.pixels));
          expectTensor(pixels, String(o.pixels), 'float32', [1, 3, null, null]);
        } else {
          pixels = (await loadImageForVae(String(o.image), Number(o.size))).pixels;
        }
        const [, , H, W] = pixels.dims;
        if (H % 8 || W % 8) throw new AppError('INVALID_ARGUMENT', `image size ${H}x${W} is not a multiple of 8`);
        const moments = await sd.vaeMoments(pixels);
        const c = moments.dims[1] / 2;
        const h = moments.dims[2];
        const w = moments.dims[3];
        const K = Number(o.ensemble);
        const rng = new Rng(Number(o.seed));
        let eps: HostTensor;
        if (o.vaeEps) {
          eps = readNpy(String(o.vaeEps));
          expectTensor(eps, String(o.vaeEps), 'float32', [1, c, h, w]);
        } else eps = { dtype: 'float32', dims: [1, c, h, w], data: rng.normals(c * h * w) };
        let noise: HostTensor;
        if (o.noise) {
          noise = readNpy(String(o.noise));
          if (noise.dims.length === 4) noise = { ...noise, dims: [1, 1, ...noise.dims.slice(1)] };
          expectTensor(noise, String(o.noise), 'float32', [1, K, c, h, w]);
        } else noise = { dtype: 'float32', dims: [1, K, c, h, w], data: rng.normals(K * c * h * w) };
        let ehs: HostTensor;
        if (o.encoderHiddenStates) {
          ehs = readNpy(String(o.encoderHiddenStates));
          expectTensor(ehs, String(o.encoderHiddenStates), 'float32', [1, null, sd.folder.hiddenSize]);
        } else {
          ehs = await promptHiddenStates(sd, String(o.prompt));
        }
        const out = await sd.features({ moments, eps, noise, encoderHiddenStates: ehs, timestep: Number(o.timestep) });
        writeOut(String(o.out), out.features);
        if (o.saveIntermediates) {
          writeOut(path.join(String(o.saveIntermediates), 'latent_parameters.npy'), moments);
          writeOut(path.join(String(o.saveIntermediates), 'noisy_latents.npy'), out.noisyLatents);
        }
        sayProvider(sd.sessions.providersUsed());
        await sd.dispose();
      } finally {
        task.finish();
      }
    });

  debug
    .command('match')
    .description('matches of source keypoints on the target features (image frame out)')
    .requiredOption('--src-features <file>', '.npy [B, C, h, w]')
    .requiredOption('--trg-features <file>', '.npy [B, C, h, w]')
    .requiredOption('--src-kps <file>', '.npy [B, N, 2] float32, image frame (x, y)')
    .requiredOption('--n-pts <file>', '.npy [B] int64 valid keypoints per pair')
    .requiredOption('--image-size <HxW>', 'image frame size, e.g. 256x256')
    .option('--method <name>', `one of ${MATCH_METHODS.join(', ')}`, 'kernelsoftmax')
    .option('--temperature <t>', 'softmax temperature', parseFloatOption('--temperature'), 0.04)
    .option('--sigma <s>', 'kernel soft-argmax window sigma (feature cells)', parseFloatOption('--sigma'), 7)
    .option('--trg-kps <file>', '.npy [B, N, 2] ground truth in the target image frame: also write per-pair PCK')
    .option('--pckthres <file>', '.npy [B] PCK thresholds (pixels) for --trg-kps')
    .option('--alphas <list>', 'PCK alphas', '0.05,0.1,0.15')
    .requiredOption('--out <file>', 'output .npy [B, N, 2]; with --trg-kps also <out>.pck_<alpha>.npy [B]')
    .action(
      async (o: {
        srcFeatures: string;
        trgFeatures: string;
        srcKps: string;
        nPts: string;
        imageSize: string;
        method: string;
        temperature: number;
        sigma: number;
        trgKps?: string;
        pckthres?: string;
        alphas: string;
        out: string;
      }) => {
        if (!(MATCH_METHODS as readonly string[]).includes(o.method)) {
          throw new AppError('INVALID_ARGUMENT', `--method must be one of ${MATCH_METHODS.join(', ')}, got '${o.method}'`);
        }
        const src = readNpy(o.srcFeatures);
        const trg = readNpy(o.trgFeatures);
        expectTensor(src, o.srcFeatures, 'float32', [null, null, null, null]);
        expectTensor(trg, o.trgFeatures, 'float32', [src.dims[0], src.dims[1], null, null]);
        const kps = keypointsArg(o.srcKps, 'src');
        if (kps.B !== src.dims[0]) throw new AppError('INVALID_ARGUMENT', `${o.srcKps}: ${kps.B} pairs, but the features hold ${src.dims[0]}`);
        nPtsArg(o.nPts, kps.B, kps.N);
        const frame = parseImageSize(o.imageSize);
        const sessions = new SessionCache();
        const res = await matchKeypoints(sessions, { srcFeatures: src, trgFeatures: trg, srcKps: kps.t.data as Float32Array, N: kps.N, srcFrame: frame, trgFrame: frame }, [o.method as MatchMethod], {
          temperature: o.temperature,
          sigma: o.sigma,
        });
        const matches = res.matches[o.method as MatchMethod]!;
        writeOut(o.out, { dtype: 'float32', dims: [kps.B, kps.N, 2], data: matches });
        sayProvider(sessions.providersUsed());
        if (o.trgKps || o.pckthres) {
          if (!o.trgKps || !o.pckthres) throw new AppError('INVALID_ARGUMENT', 'PCK needs both --trg-kps and --pckthres');
          const tk = keypointsArg(o.trgKps, 'trg');
          if (tk.B !== kps.B || tk.N !== kps.N) throw new AppError('INVALID_ARGUMENT', `${o.trgKps}: shape [${tk.t.dims}] does not match the source keypoints [${kps.t.dims}]`);
          const thres = readNpy(o.pckthres);
          expectTensor(thres, o.pckthres, ['float32', 'float64'], [kps.B]);
          const alphas = o.alphas.split(',').map(Number);
          const nPts = nPtsArg(o.nPts, kps.B, kps.N);
          const p = pckPerPair(matches, tk.t.data as Float32Array, nPts, kps.N, Array.from(thres.data as Float32Array, Number), alphas);
          alphas.forEach((a, k) => writeOut(o.out.replace(/\.npy$/, '') + `.pck_${a}.npy`, { dtype: 'float32', dims: [kps.B], data: Float32Array.from(p.perPair.map((row) => row[k])) }));
        }
      },
    );

  debug
    .command('loss')
    .description('the SD4Match loss and its gradients w.r.t. both feature maps')
    .requiredOption('--src-features <file>', '.npy [B, C, h, w]')
    .requiredOption('--trg-features <file>', '.npy [B, C, h, w]')
    .requiredOption('--src-kps <file>', '.npy [B, N, 2] float32, image frame')
    .requiredOption('--trg-kps <file>', '.npy [B, N, 2] float32, image frame')
    .requiredOption('--n-pts <file>', '.npy [B] int64')
    .requiredOption('--image-size <HxW>', 'image frame size, e.g. 256x256')
    .option('--temperature <t>', 'softmax temperature', parseFloatOption('--temperature'), 0.04)
    .requiredOption('--out <dir>', 'writes loss.npy, grad_src_featmaps.npy, grad_trg_featmaps.npy')
    .action(async (o: { srcFeatures: string; trgFeatures: string; srcKps: string; trgKps: string; nPts: string; imageSize: string; temperature: number; out: string }) => {
      const src = readNpy(o.srcFeatures);
      const trg = readNpy(o.trgFeatures);
      expectTensor(src, o.srcFeatures, 'float32', [null, null, null, null]);
      expectTensor(trg, o.trgFeatures, 'float32', [src.dims[0], src.dims[1], null, null]);
      const sk = keypointsArg(o.srcKps, 'src');
      const tk = keypointsArg(o.trgKps, 'trg');
      if (sk.B !== src.dims[0] || tk.B !== sk.B || tk.N !== sk.N) {
        throw new AppError('INVALID_ARGUMENT', `keypoints [${sk.t.dims}] / [${tk.t.dims}] do not match ${src.dims[0]} pairs of features`);
      }
      const nPts = nPtsArg(o.nPts, sk.B, sk.N);
      const frame = parseImageSize(o.imageSize);
      const [B, C, h, w] = src.dims;
      const d = { B, N: sk.N, C, h, w, h2: trg.dims[2], w2: trg.dims[3] };
      const settings = { temperature: o.temperature, kernel: 7, sigma: 1.5 };
      const feeds = {
        src_features: src,
        trg_features: trg,
        ...lossFeeds({ srcKps: sk.t.data as Float32Array, trgKps: tk.t.data as Float32Array, nPts, N: sk.N, srcFrame: frame, trgFrame: frame }, d, settings),
      };
      const r = await runVjp(buildLossGraph(d, settings), feeds, { dtype: 'float32', dims: [], data: Float32Array.from([1]) }, { wrt: ['src_features', 'trg_features'] });
      fs.mkdirSync(o.out, { recursive: true });
      writeOut(path.join(o.out, 'loss.npy'), r.outputs.loss);
      writeOut(path.join(o.out, 'grad_src_featmaps.npy'), r.grads.src_features);
      writeOut(path.join(o.out, 'grad_trg_featmaps.npy'), r.grads.trg_features);
      sayProvider([r.provider]);
    });

  debug
    .command('cpm')
    .description('the conditional prompting module: token embeddings and the gradient of <token_embeds, cotangent> w.r.t. every parameter')
    .requiredOption('--params <dir>', `folder with ${CPM_PARAMS.join(', ')} as .npy`)
    .requiredOption('--src-patches <file>', '.npy [B, 256, Dd] DINOv2 patch tokens of the sources')
    .requiredOption('--trg-patches <file>', '.npy [B, 256, Dd] of the targets')
    .requiredOption('--sos-eos <file>', '.npy [1, 2, D] embedding rows of SOS and EOS')
    .requiredOption('--cotangent <file>', '.npy [B, 77, D]')
    .requiredOption('--out <dir>', 'writes token_embeds.npy and grad_<parameter>.npy')
    .action(async (o: { params: string; srcPatches: string; trgPatches: string; sosEos: string; cotangent: string; out: string }) => {
      const src = readNpy(o.srcPatches);
      const trg = readNpy(o.trgPatches);
      expectTensor(src, o.srcPatches, 'float32', [null, CPM_DEFAULTS.patches, null]);
      expectTensor(trg, o.trgPatches, 'float32', src.dims);
      const sosEos = readNpy(o.sosEos);
      expectTensor(sosEos, o.sosEos, 'float32', [1, 2, null]);
      const dims = { B: src.dims[0], dino: src.dims[2], hidden: sosEos.dims[2], ...CPM_DEFAULTS };
      const g = buildCpmGraph(dims);
      const feeds: Record<string, HostTensor> = { src_patches: src, trg_patches: trg, sos_eos_embeds: sosEos };
      const shapes = g.graph.inputs;
      for (const p of CPM_PARAMS) {
        const file = path.join(o.params, `${p}.npy`);
        const t = readNpy(file);
        expectTensor(t, file, 'float32', shapes.find((i) => i.name === p)!.shape as number[]);
        feeds[p] = t;
      }
      const model = { ...g, graph: { ...g.graph, outputs: g.graph.outputs.filter((x) => x.name === 'token_embeds') } };
      const cot = readNpy(o.cotangent);
      const r = await runVjp(model, feeds, cot, { wrt: [...CPM_PARAMS] });
      fs.mkdirSync(o.out, { recursive: true });
      writeOut(path.join(o.out, 'token_embeds.npy'), r.outputs.token_embeds);
      for (const p of CPM_PARAMS) writeOut(path.join(o.out, `grad_${p}.npy`), r.grads[p]);
      sayProvider([r.provider]);
    });

  debug
    .command('step')
    .description('one SD4Match-Single step: prompt from ids, the same prompt for source and target, loss, gradient, Adam, loss again')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder')
    .requiredOption('--prompt-ids <file>', '.npy [1, 77] int64: [SOS, 75 ids whose embeddings start the learnable rows, EOS]')
    .requiredOption('--noisy-latents <file>', '.npy [2B, c, h, w]: sources then targets')
    .requiredOption('--src-kps <file>', '.npy [B, N, 2] float32, image frame')
    .requiredOption('--trg-kps <file>', '.npy [B, N, 2] float32, image frame')
    .requiredOption('--n-pts <file>', '.npy [B] int64')
    .requiredOption('--image-size <HxW>', 'image frame size, e.g. 256x256')
    .requiredOption('--timestep <t>', 'diffusion timestep', parseIntOption('--timestep'))
    .option('--lr <lr>', 'Adam learning rate', parseFloatOption('--lr'), TRAIN_DEFAULTS.lr)
    .option('--cache-dir <dir>', 'where compiled graphs are cached')
    .requiredOption('--out <dir>', 'writes loss_before.npy, grad_learnable.npy, learnable_after_adam.npy, loss_after.npy')
    .action(async function (
      this: Command,
      o: { modelDir: string; promptIds: string; noisyLatents: string; srcKps: string; trgKps: string; nPts: string; imageSize: string; timestep: number; lr: number; cacheDir?: string; out: string },
    ) {
      const task = cliTask();
      try {
        const sd = SdModel.open(o.modelDir, { cacheDir: cacheDirOf(this, o.cacheDir), task });
        const ids = readNpy(o.promptIds);
        expectTensor(ids, o.promptIds, ['int64', 'int32'], [1, CONTEXT_LENGTH]);
        const latents = readNpy(o.noisyLatents);
        expectTensor(latents, o.noisyLatents, 'float32', [null, sd.folder.latentChannels || null, null, null]);
        const sk = keypointsArg(o.srcKps, 'src');
        const tk = keypointsArg(o.trgKps, 'trg');
        if (latents.dims[0] !== 2 * sk.B || tk.B !== sk.B || tk.N !== sk.N) {
          throw new AppError('INVALID_ARGUMENT', `${o.noisyLatents} holds ${latents.dims[0]} latents; ${sk.B} pairs need ${2 * sk.B} (sources then targets)`);
        }
        const nPts = nPtsArg(o.nPts, sk.B, sk.N);
        const r = await singleStep(sd, {
          promptIds: ids,
          noisyLatents: latents,
          srcKps: sk.t.data as Float32Array,
          trgKps: tk.t.data as Float32Array,
          nPts,
          N: sk.N,
          frame: parseImageSize(o.imageSize),
          timestep: o.timestep,
          lr: o.lr,
        });
        fs.mkdirSync(o.out, { recursive: true });
        writeOut(path.join(o.out, 'loss_before.npy'), { dtype: 'float32', dims: [], data: Float32Array.from([r.lossBefore]) });
        writeOut(path.join(o.out, 'grad_learnable.npy'), r.gradLearnable);
        writeOut(path.join(o.out, 'learnable_after_adam.npy'), r.learnableAfter);
        writeOut(path.join(o.out, 'loss_after.npy'), { dtype: 'float32', dims: [], data: Float32Array.from([r.lossAfter]) });
        sayProvider(sd.sessions.providersUsed());
        await sd.dispose();
      } finally {
        task.finish();
      }
    });

  debug
    .command('generate')
    .description('DDIM text-to-image sampling with classifier-free guidance from explicit latents and hidden states, as diffusers runs it')
    .requiredOption('--model-dir <dir>', 'Stable Diffusion folder (optimum layout, with vae_decoder)')
    .requiredOption('--initial-latents <file>', '.npy [1, c, h, w] initial noise')
    .requiredOption('--cond <file>', '.npy [1, 77, D] hidden states of the prompt')
    .requiredOption('--uncond <file>', '.npy [1, 77, D] hidden states of the empty prompt')
    .requiredOption('--steps <N>', 'sampling steps', parseIntOption('--steps'))
    .option('--guidance <g>', 'classifier-free guidance scale', parseFloatOption('--guidance'), 7.5)
    .requiredOption('--out <dir>', 'writes latents_after_step{i}.npy and image.npy here')
    .action(async (o: { modelDir: string; initialLatents: string; cond: string; uncond: string; steps: number; guidance: number; out: string }) => {
      if (o.steps < 1) throw new AppError('INVALID_ARGUMENT', `--steps must be at least 1, got ${o.steps}`);
      if (o.guidance < 0) throw new AppError('INVALID_ARGUMENT', `--guidance must be >= 0, got ${o.guidance}`);
      const folder = inspectSdFolder(o.modelDir);
      const latents = readNpy(o.initialLatents);
      expectTensor(latents, o.initialLatents, 'float32', [1, folder.latentChannels, null, null]);
      const cond = readNpy(o.cond);
      expectTensor(cond, o.cond, 'float32', [1, null, folder.hiddenSize]);
      const uncond = readNpy(o.uncond);
      expectTensor(uncond, o.uncond, 'float32', [1, cond.dims[1], folder.hiddenSize]);
      const task = cliTask();
      const gen = new Generator(folder);
      try {
        const r = await gen.generate({ latents, cond, uncond, steps: o.steps, guidance: o.guidance }, task);
        task.finish();
        fs.mkdirSync(o.out, { recursive: true });
        process.stdout.write(`timesteps ${r.timesteps.join(' ')}\n`);
        r.perStep.forEach((t, i) => writeOut(path.join(o.out, `latents_after_step${i}.npy`), t));
        writeOut(path.join(o.out, 'image.npy'), r.image);
        sayProvider([gen.provider]);
      } finally {
        task.finish();
        await gen.dispose();
      }
    });
}

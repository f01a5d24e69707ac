/**
 * A generation plan and its run: which images a gallery needs (sources x seeds, each keyed by its
 * inputs), and the job-process body that generates the missing ones, storing and announcing each.
 * Free of the application context: the job process runs it on its own services.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GeneratedImage, GenerateSource } from '../../contract/index.js';
import { SEED_MAX } from '../../contract/runs.js';
import { writeFileAtomic } from '../../engine/cache/temp-files.js';
import { toEvalPair } from '../../engine/datasets/pair-geometry.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { HostTensor } from '../../engine/onnx/ir.js';
import { ddimTimesteps, readDdimConfig } from '../../engine/sd4match/generation/ddim.js';
import { defaultImageSize, Generator, imageToPng } from '../../engine/sd4match/generation/generate.js';
import { checkGenerationFits } from '../../engine/sd4match/memory/memory-estimate.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import { type ImageRef, Pipeline } from '../../engine/sd4match/features/pipeline.js';
import { DEFAULT_TEMPLATE, type LearnedPrompt, promptHiddenStates, templateText, tokenEmbedsFor } from '../../engine/sd4match/prompts/prompts.js';
import { Rng } from '../../engine/sd4match/features/random.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { probeProvider } from '../../engine/onnx/runtime.js';
import { AppError } from '../../shared/errors.js';
import type { GeneratedImageRecord } from '../../store/repositories/generated-images.js';
import { promptSpecOf } from '../prompts/resolve.js';
import { type Services } from '../app/context.js';
import { requireFolderCan } from '../models/capabilities.js';

/** Bump when generated pixels change meaning for the same inputs. */
const GENERATOR_VERSION = 1;

/** Generated PNGs live here, inside the cache folder. */
export const GENERATED_DIR = 'generated';

/** One row of a gallery, resolved. */
export interface PlannedSource {
  label: string;
  /** What conditions the image: a text, a stored Single/Class prompt, or a CPM prompt on a pair. */
  kind: 'text' | 'learned' | 'cpm';
  text: string | null;
  promptId: number | null;
  category: string | null;
  pairId: number | null;
  /** CPM: the pair's images (DINOv2 features of both condition the prompt). */
  pair?: { src: ImageRef; trg: ImageRef };
  /** Identifies the conditioning's content for the cache key. */
  identity: string;
}

/** Everything a generation job needs, checked, serialisable. */
export interface GenerationPlan {
  modelDir: string;
  modelId: number | null;
  dinoDir?: string;
  size: number;
  steps: number;
  guidance: number;
  seeds: number[];
  sources: PlannedSource[];
  /** keys[source][seed index]: the stored images' cache keys. */
  keys: string[][];
  /** The images to generate (not stored yet), in gallery order. */
  todo: { source: number; seed: number; key: string }[];
  /** Sampler settings and the model's fingerprint, stored with every image. */
  settings: Record<string, unknown>;
}

/** What a plan is made from: the API's arguments (a registered model), or the CLI's (a folder). */
export interface GenerationInput {
  modelDir: string;
  modelId?: number | null;
  dinoDir?: string;
  sources: GenerateSource[];
  seeds: number[];
  steps: number;
  guidance: number;
  size?: number;
}

function sha(...parts: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The model's files as generation reads them, by name, size and modification time (a cheap
 * stand-in for their content: the multi-GB weights are not hashed in the calling process).
 */
function folderFingerprint(dir: string): string {
  const entries: [string, number, number][] = [];
  for (const part of ['unet', 'vae_decoder', 'text_encoder', 'tokenizer', 'scheduler']) {
    const d = path.join(dir, part);
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).sort()) {
      const st = fs.statSync(path.join(d, f));
      if (st.isFile()) entries.push([`${part}/${f}`, st.size, Math.round(st.mtimeMs)]);
    }
  }
  return sha(entries).slice(0, 24);
}

function promptTensorsHash(svc: Services, promptId: number): string {
  const h = crypto.createHash('sha256');
  for (const [name, t] of Object.entries(svc.repos.prompts.tensors(promptId)).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`${name}:${t.dtype}:${t.dims.join('x')}:`);
    h.update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex').slice(0, 24);
}

/** Resolves one source, or says exactly what is wrong with it. */
function planSource(svc: Services, s: GenerateSource, index: number, hasDino: boolean): PlannedSource {
  const where = `source ${index + 1}`;
  if ('text' in s) return { label: `"${s.text}"`, kind: 'text', text: s.text, promptId: null, category: null, pairId: null, identity: sha('text', s.text) };
  const p = svc.repos.prompts.get(s.promptId);
  if (!p) throw new AppError('NOT_FOUND', `${where}: no prompt with id ${s.promptId}`);
  const pair = s.pairId !== undefined ? svc.repos.pairs.get(s.pairId) : undefined;
  if (s.pairId !== undefined && !pair) throw new AppError('NOT_FOUND', `${where}: no pair with id ${s.pairId}`);
  if (p.kind === 'baseline') {
    const { spec } = promptSpecOf(svc, p.id);
    if (spec.kind === 'dino') throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} is not a text prompt; there is nothing to generate from`);
    if (spec.kind === 'empty') return { label: p.name, kind: 'text', text: '', promptId: p.id, category: null, pairId: null, identity: sha('text', '') };
    if (spec.kind === 'template') {
      const category = s.category ?? pair?.category;
      if (!category) throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} needs a category (the template is "${spec.template ?? DEFAULT_TEMPLATE}")`);
      const text = templateText(spec.template ?? DEFAULT_TEMPLATE, category);
      return { label: `template "${text}"`, kind: 'text', text, promptId: p.id, category, pairId: null, identity: sha('text', text) };
    }
    throw new AppError('INVALID_ARGUMENT', `${where}: baseline ${p.name} cannot be generated from`);
  }
  const identity = promptTensorsHash(svc, p.id);
  const categories = ((p.config as { categories?: string[] }).categories ?? []) as string[];
  if (p.kind === 'single') return { label: p.name, kind: 'learned', text: null, promptId: p.id, category: null, pairId: null, identity: sha('prompt', identity) };
  if (p.kind === 'class') {
    if (!s.category) throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} is a Class prompt: choose one of its categories (${categories.join(', ')})`);
    if (!categories.includes(s.category)) throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} has no prompt for category '${s.category}' (it has: ${categories.join(', ')})`);
    return { label: `${p.name} · ${s.category}`, kind: 'learned', text: null, promptId: p.id, category: s.category, pairId: null, identity: sha('prompt', identity, s.category) };
  }
  // CPM: the prompt is computed from the pair's two images
  if (!pair) throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} is a CPM prompt, conditioned on an image pair: choose a pair`);
  if (!hasDino) throw new AppError('INVALID_ARGUMENT', `${where}: ${p.name} is a CPM prompt: it needs a DINOv2 model, choose one`);
  const e = toEvalPair({ ...pair, flip: 0 });
  return {
    label: `${p.name} · ${pair.name}`,
    kind: 'cpm',
    text: null,
    promptId: p.id,
    category: pair.category,
    pairId: pair.id,
    pair: { src: e.src, trg: e.trg },
    identity: sha('cpm', identity, e.src.key, e.trg.key),
  };
}

/**
 * Resolves and checks a generation request whole: nothing runs and nothing is written when any
 * part is wrong, and the error names it. Reads small files only (configs, the store).
 */
export function planGeneration(svc: Services, a: GenerationInput): GenerationPlan {
  const dir = a.modelDir;
  // the VAE decoder, the tokenizer (guidance runs against the empty prompt) and a DDIM schedule
  requireFolderCan(svc, dir, 'generation');
  if (!Number.isFinite(a.guidance) || a.guidance < 0) throw new AppError('INVALID_ARGUMENT', `the guidance scale must be a number >= 0, got ${a.guidance}`);
  const ddim = readDdimConfig(path.join(dir, 'scheduler', 'scheduler_config.json'));
  const timesteps = ddimTimesteps(ddim, a.steps);
  if (a.seeds.length === 0) throw new AppError('INVALID_ARGUMENT', 'choose at least one seed');
  for (const s of a.seeds) if (!Number.isInteger(s) || s < 0 || s > SEED_MAX) throw new AppError('INVALID_ARGUMENT', `seed ${s} is not an integer in 0..${SEED_MAX}`);
  if (a.sources.length === 0) throw new AppError('INVALID_ARGUMENT', 'choose at least one prompt to generate from');
  const size = a.size ?? defaultImageSize(dir);
  if (!Number.isInteger(size) || size < 64 || size % 64 !== 0) throw new AppError('INVALID_ARGUMENT', `image size must be a multiple of 64, got ${size}`);
  const sources = a.sources.map((s, i) => planSource(svc, s, i, !!a.dinoDir));
  const fingerprint = folderFingerprint(dir);
  const settings = { ddim, timesteps, fingerprint, version: GENERATOR_VERSION };
  const keys = sources.map((src) => a.seeds.map((seed) => sha(GENERATOR_VERSION, fingerprint, ddim, src.identity, seed, a.steps, a.guidance, size)));
  const stored = svc.repos.generated.byKeys(keys.flat());
  const todo: GenerationPlan['todo'] = [];
  const queued = new Set<string>();
  keys.forEach((row, source) =>
    row.forEach((key, j) => {
      // the same image asked twice (two rows standing for the same text) is made once
      if (!stored.has(key) && !queued.has(key)) todo.push({ source, seed: a.seeds[j], key });
      queued.add(key);
    }),
  );
  return { modelDir: dir, modelId: a.modelId ?? null, dinoDir: a.dinoDir, size, steps: a.steps, guidance: a.guidance, seeds: a.seeds, sources, keys, todo, settings };
}

export function toGeneratedImage(r: GeneratedImageRecord): GeneratedImage {
  return {
    id: r.id,
    key: r.cacheKey,
    modelId: r.modelId,
    promptId: r.promptId,
    label: r.label,
    text: r.text,
    category: r.category,
    pairId: r.pairId,
    seed: r.seed,
    steps: r.steps,
    guidance: r.guidance,
    width: r.width,
    height: r.height,
    seconds: r.seconds,
    provider: r.provider,
    createdAt: r.createdAt,
  };
}

/** The PNG file of a stored generated image (inside the cache folder's generated/). */
export function generatedFile(svc: Services, id: number): { file: string; record: GeneratedImageRecord } {
  const r = svc.repos.generated.get(id);
  if (!r) throw new AppError('NOT_FOUND', `no generated image with id ${id}`);
  const root = path.resolve(svc.cacheDir, GENERATED_DIR);
  const file = path.resolve(svc.cacheDir, r.path);
  if (!file.startsWith(`${root}${path.sep}`)) throw new AppError('FORBIDDEN', `generated image ${id} is stored outside ${GENERATED_DIR}/`);
  if (!fs.existsSync(file)) throw new AppError('NOT_FOUND', `the file of generated image ${id} is gone`);
  return { file, record: r };
}

/** The hidden states [1, 77, D] a source conditions the UNet with. */
async function conditioning(svc: Services, sd: SdModel, pipes: Map<number, Pipeline>, dinoDir: string | undefined, s: PlannedSource): Promise<HostTensor> {
  if (s.kind === 'text') return promptHiddenStates(sd, s.text!);
  const { spec } = promptSpecOf(svc, s.promptId!);
  if (spec.kind !== 'learned') throw new AppError('INTERNAL', `prompt ${s.promptId} is not a learned prompt`);
  const learned: LearnedPrompt = spec.prompt;
  if (learned.meta.modelHash && learned.meta.modelHash !== sd.compiled.modelHash) {
    throw new AppError('INVALID_ARGUMENT', `${s.label} was trained for another model (hash ${learned.meta.modelHash.slice(0, 12)}); ${sd.folder.dir} has hash ${sd.compiled.modelHash.slice(0, 12)}`);
  }
  if (s.kind === 'learned') return sd.encodeEmbeds(tokenEmbedsFor(learned, s.category ?? ''));
  let pipe = pipes.get(s.promptId!);
  if (!pipe) {
    // the pipeline's size is the prompt's own: CPM's DINOv2 input does not depend on it
    pipe = new Pipeline(sd, spec, { size: learned.meta.imageSize, timestep: learned.meta.timestep, ensemble: 1, seed: 0 }, svc.tensors, inspectDinoFolder(dinoDir!));
    pipes.set(s.promptId!, pipe);
  }
  return pipe.cpmHiddenStates(s.pair!.src, s.pair!.trg);
}

/**
 * Generates a plan's images (the `generate` worker task): each is stored (PNG file, then its row)
 * as soon as it is done and announced with `generate:image`; cancelling keeps what is finished.
 */
export async function runGenerationPlan(
  svc: Services,
  plan: GenerationPlan,
  task: TaskContext,
  emit: (name: string, payload: unknown) => void = () => {},
): Promise<{ images: number; seconds: number; provider: string | null }> {
  const started = Date.now();
  if (plan.todo.length === 0) return { images: 0, seconds: 0, provider: null };
  const sd = SdModel.open(plan.modelDir, { cacheDir: svc.cacheDir, task });
  const gen = new Generator(sd.folder, { providers: sd.providers });
  const pipes = new Map<number, Pipeline>();
  try {
    // say so before a size the machine cannot hold, rather than lose the job process
    await gen.plannedProvider(); // the graphs the check plans are the ones that will run
    checkGenerationFits(sd, gen, plan.size, (await probeProvider()).provider);
    const lat = sd.latentSize(plan.size);
    const c = sd.folder.latentChannels;
    const perImage = plan.steps + 1;
    const total = plan.todo.length * perImage;
    const outDir = path.join(svc.cacheDir, GENERATED_DIR);
    fs.mkdirSync(outDir, { recursive: true });
    task.progress({ stage: 'generating', done: 0, total, detail: 'encoding prompts' });
    const uncond = await promptHiddenStates(sd, '');
    // every condition first: a prompt that cannot be used fails the job before anything is stored
    const conds = new Map<number, HostTensor>();
    for (const item of plan.todo) if (!conds.has(item.source)) conds.set(item.source, await conditioning(svc, sd, pipes, plan.dinoDir, plan.sources[item.source]));
    // the text encoder (and DINOv2) are done: their weights leave before the UNet's come in
    for (const p of pipes.values()) await p.dispose();
    pipes.clear();
    await sd.sessions.clear();
    let made = 0;
    for (const [n, item] of plan.todo.entries()) {
      task.token.throwIfCancelled();
      const src = plan.sources[item.source];
      const cond = conds.get(item.source)!;
      const t0 = Date.now();
      const latents = { dtype: 'float32' as const, dims: [1, c, lat, lat], data: new Rng(item.seed).normals(c * lat * lat) };
      const where = `${src.label}, seed ${item.seed} (${n + 1}/${plan.todo.length})`;
      const sub: TaskContext = {
        token: task.token,
        progress: (p) => task.progress({ stage: 'generating', done: n * perImage + p.done, total, detail: p.stage === 'decoding' ? `${where}: decoding` : `${where}: step ${p.done + 1}/${p.total}` }),
      };
      const out = await gen.generate({ latents, cond, uncond, steps: plan.steps, guidance: plan.guidance }, sub);
      const png = await imageToPng(out.image);
      const rel = path.join(GENERATED_DIR, `${item.key.slice(0, 32)}.png`);
      const file = path.join(svc.cacheDir, rel);
      // no temporary file survives a failed write; a full disk is DISK_FULL naming the image
      writeFileAtomic(file, png, `the generated image ${rel}`);
      const [, , H, W] = out.image.dims;
      const record = await svc.store.write(() =>
        svc.repos.generated.put({
          cacheKey: item.key,
          modelId: plan.modelId,
          promptId: src.promptId,
          label: src.label,
          text: src.text,
          category: src.category,
          pairId: src.pairId,
          seed: item.seed,
          steps: plan.steps,
          guidance: plan.guidance,
          width: W,
          height: H,
          settings: plan.settings,
          path: rel,
          bytes: png.length,
          seconds: (Date.now() - t0) / 1000,
          provider: gen.provider ?? 'cpu',
        }),
      );
      made++;
      emit('generate:image', toGeneratedImage(record));
      task.progress({ stage: 'generating', done: (n + 1) * perImage, total, detail: `${where}: stored` });
    }
    return { images: made, seconds: (Date.now() - started) / 1000, provider: gen.provider };
  } finally {
    for (const p of pipes.values()) await p.dispose();
    await gen.dispose();
    await sd.dispose();
  }
}

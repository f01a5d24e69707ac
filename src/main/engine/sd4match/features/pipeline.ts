/**
 * The inference pipeline with its caches: per image, VAE moments (cached per model, image, size,
 * flip), feature maps for a prompt (cached per image when the prompt does not depend on the pair),
 * DINOv2 patch tokens (cached per image); per pair, CPM prompts. Every random draw is seeded per
 * image, so cached and recomputed features are identical.
 */
import { AppError } from '../../../shared/errors.js';
import { cacheKey, type TensorCache } from '../../cache/tensor-cache.js';
import type { HostTensor } from '../../onnx/ir.js';
import { createSession, type Session } from '../../onnx/runtime.js';
import { buildCpmGraph, CPM_DEFAULTS, CPM_PARAMS } from '../prompts/cpm.js';
import { loadImageForDino, loadImageForVae } from './image.js';
import type { DinoFolder } from '../model/model-folder.js';
import { checkPromptFits, DEFAULT_TEMPLATE, tokenizerOf, type LearnedPrompt, loadLearnedPrompt, promptHiddenStates, templateText, tokenEmbedsFor } from '../prompts/prompts.js';
import { Rng } from './random.js';
import type { SdModel } from '../model/sd-model.js';

export interface ImageRef {
  /** Absolute file path. */
  file: string;
  /** Stable identity for caches (content hash, or path + size + mtime). */
  key: string;
  width: number;
  height: number;
  /** Mirror horizontally (PF-Pascal training pairs). */
  flip?: boolean;
  /**
   * Apply the file's EXIF orientation (the displayed frame: folder and COCO datasets, standalone
   * files); default the stored frame (benchmarks). See images/orientation.ts.
   */
  orient?: boolean;
}

/**
 * The cache-key part that keeps tensors computed on different execution providers apart (they
 * differ slightly): none for CPU, so keys from before providers were recorded stay valid.
 */
function providerKey(provider: string): string[] {
  return provider === 'cpu' ? [] : [provider];
}

/** Cache-key parts for the image's frame (none for the stored frame, so benchmark keys stay as they were). */
function frameKey(img: ImageRef): string[] {
  return img.orient ? ['exif'] : [];
}

export type PromptSpec =
  | { kind: 'empty' }
  | { kind: 'template'; template?: string }
  | { kind: 'file'; file: string }
  | { kind: 'dino' }
  /** A prompt held in memory (validation during training); its features are never cached. */
  | { kind: 'learned'; prompt: LearnedPrompt };

export function describePrompt(p: PromptSpec): string {
  switch (p.kind) {
    case 'empty':
      return 'empty prompt';
    case 'template':
      return `template "${p.template ?? DEFAULT_TEMPLATE}"`;
    case 'file':
      return `learned prompt ${p.file}`;
    case 'dino':
      return 'DINOv2 features';
    case 'learned':
      return `learned ${p.prompt.meta.kind} prompt (in training)`;
  }
}

export interface PipelineSettings {
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
}

export class Pipeline {
  private readonly ehsByCategory = new Map<string, Promise<HostTensor>>();
  private learned: LearnedPrompt | null = null;
  private dinoSession: Promise<Session> | null = null;
  private readonly promptId: string;
  /** Pixel hashes of the images seen (the random draws' identity), by image, mirroring, frame and size. */
  private readonly pixelKeys = new Map<string, Promise<string>>();

  constructor(
    readonly sd: SdModel,
    readonly prompt: PromptSpec,
    readonly settings: PipelineSettings,
    readonly cache: TensorCache,
    readonly dino: DinoFolder | null = null,
  ) {
    if (prompt.kind === 'file' || prompt.kind === 'learned') {
      this.learned = prompt.kind === 'file' ? loadLearnedPrompt(prompt.file) : prompt.prompt;
      checkPromptFits(this.learned, sd, settings.size);
      if (this.learned.meta.kind === 'cpm' && !dino) {
        throw new AppError('INVALID_ARGUMENT', `${this.learned.file} is a CPM prompt: it needs DINOv2 features (--dino-dir)`);
      }
    }
    // text prompts need the tokenizer: fail before any work rather than at the first pair
    if (prompt.kind === 'empty' || prompt.kind === 'template') tokenizerOf(sd);
    if (prompt.kind === 'dino' && !dino) throw new AppError('INVALID_ARGUMENT', 'the DINOv2 baseline needs a DINOv2 model folder (--dino-dir)');
    this.promptId = prompt.kind === 'learned' ? '' : cacheKey(prompt.kind === 'file' ? { file: prompt.file, created: this.learned!.meta.created, runId: this.learned!.meta.runId } : prompt);
  }

  /** Whether features depend on the pair (CPM) rather than on the image alone. */
  get perPair(): boolean {
    return this.learned?.meta.kind === 'cpm';
  }

  get label(): string {
    return describePrompt(this.prompt);
  }

  /** VAE latent parameters of an image at the pipeline's size. */
  async moments(img: ImageRef): Promise<HostTensor> {
    const provider = await this.sd.plannedProvider();
    const key = cacheKey('moments', this.sd.key, img.key, this.settings.size, !!img.flip, ...frameKey(img), ...providerKey(provider));
    return this.cache.getOrCompute(
      'moments',
      key,
      async () => {
        const { pixels, pixelKey } = await loadImageForVae(img.file, this.settings.size, { flip: img.flip, orient: img.orient });
        this.pixelKeys.set(this.pixelSlot(img), Promise.resolve(pixelKey));
        return this.sd.vaeMoments(pixels);
      },
      provider,
    );
  }

  /** Hidden states [1, 77, D] of a non-pair prompt for a category. */
  async hiddenStates(category: string): Promise<HostTensor> {
    let hit = this.ehsByCategory.get(category);
    if (!hit) {
      hit = (async () => {
        const p = this.prompt;
        if (p.kind === 'empty') return promptHiddenStates(this.sd, '');
        if (p.kind === 'template') return promptHiddenStates(this.sd, templateText(p.template ?? DEFAULT_TEMPLATE, category));
        if (p.kind === 'file' || p.kind === 'learned') return this.sd.encodeEmbeds(tokenEmbedsFor(this.learned!, category));
        throw new AppError('INTERNAL', `no hidden states for ${p.kind}`);
      })();
      this.ehsByCategory.set(category, hit);
      hit.catch(() => this.ehsByCategory.delete(category));
    }
    return hit;
  }

  private pixelSlot(img: ImageRef): string {
    return cacheKey(img.key, !!img.flip, !!img.orient, this.settings.size);
  }

  /** The hash of the image's pixels at the pipeline's size (decoded again when its moments came from the cache). */
  private pixelKey(img: ImageRef): Promise<string> {
    const slot = this.pixelSlot(img);
    let hit = this.pixelKeys.get(slot);
    if (!hit) {
      hit = loadImageForVae(img.file, this.settings.size, { flip: img.flip, orient: img.orient }).then((r) => r.pixelKey);
      this.pixelKeys.set(slot, hit);
      hit.catch(() => this.pixelKeys.delete(slot));
    }
    return hit;
  }

  /**
   * The image's random draws (VAE sampling, diffusion noise), derived from the seed and its pixels:
   * the same pixels get the same features whether they come from a file, a re-encoded copy or an
   * exemplar mirrored in memory; a file's bytes or id play no part.
   */
  private async draws(img: ImageRef, c: number, h: number, w: number): Promise<{ eps: HostTensor; noise: HostTensor }> {
    const K = this.settings.ensemble;
    const px = await this.pixelKey(img);
    const vae = Rng.derive(this.settings.seed, px, 'vae');
    const diff = Rng.derive(this.settings.seed, px, 'noise', this.settings.timestep);
    return {
      eps: { dtype: 'float32', dims: [1, c, h, w], data: vae.normals(c * h * w) },
      noise: { dtype: 'float32', dims: [1, K, c, h, w], data: diff.normals(K * c * h * w) },
    };
  }

  /**
   * Features of one image under hidden states `ehs` (computed only on a cache miss); `ehsKey`
   * identifies them for the cache (null: not cached).
   */
  async featuresWith(img: ImageRef, ehs: HostTensor | (() => Promise<HostTensor>), ehsKey: string | null): Promise<HostTensor> {
    const compute = async () => {
      const moments = await this.moments(img);
      const [, c2, h, w] = moments.dims;
      const { eps, noise } = await this.draws(img, c2 / 2, h, w);
      const hidden = typeof ehs === 'function' ? await ehs() : ehs;
      return (await this.sd.features({ moments, eps, noise, encoderHiddenStates: hidden, timestep: this.settings.timestep })).features;
    };
    if (ehsKey === null) return compute();
    const s = this.settings;
    const provider = await this.sd.plannedProvider();
    // 'pixel-draws': features from before the draws derived from pixels are not reused
    // float16 features are cached apart from float32 ones (float32 keys are unchanged)
    const precision = (await this.sd.featurePrecision()) === 'fp16' ? ['fp16'] : [];
    const key = cacheKey('features', this.sd.key, img.key, !!img.flip, s.size, s.timestep, s.ensemble, s.seed, ehsKey, 'pixel-draws', ...frameKey(img), ...providerKey(provider), ...precision);
    return this.cache.getOrCompute('features', key, compute, provider);
  }

  /** Feature maps of both images of a pair [1, C, h, w] each. */
  async pairFeatures(src: ImageRef, trg: ImageRef, category: string): Promise<{ src: HostTensor; trg: HostTensor }> {
    if (this.prompt.kind === 'dino') return { src: await this.dinoGrid(src), trg: await this.dinoGrid(trg) };
    if (this.perPair) {
      const ehs = await this.cpmHiddenStates(src, trg);
      return { src: await this.featuresWith(src, ehs, null), trg: await this.featuresWith(trg, ehs, null) };
    }
    const ehs = () => this.hiddenStates(category);
    const key = this.prompt.kind === 'learned' ? null : `${this.promptId}:${category}`;
    return { src: await this.featuresWith(src, ehs, key), trg: await this.featuresWith(trg, ehs, key) };
  }

  private dinoRunner(): Promise<Session> {
    this.dinoSession ??= createSession(this.dino!.model, { providers: this.sd.providers });
    return this.dinoSession;
  }

  /** DINOv2 patch tokens [1, 256, Dd] (CPM's preprocessing: shortest side 256, centre crop 224). */
  async dinoPatches(img: ImageRef): Promise<HostTensor> {
    const provider = await this.sd.plannedProvider();
    const key = cacheKey('dino-patches', this.dino!.model, img.key, !!img.flip, ...frameKey(img), ...providerKey(provider));
    return this.cache.getOrCompute(
      'dino',
      key,
      async () => {
        const pixels = await loadImageForDino(img.file, { flip: img.flip, orient: img.orient });
        const out = (await (await this.dinoRunner()).run({ pixel_values: pixels }, ['last_hidden_state'])).last_hidden_state;
        const [, T, D] = out.dims;
        return { dtype: 'float32', dims: [1, T - 1, D], data: (out.data as Float32Array).slice(D) };
      },
      provider,
    );
  }

  /** The DINOv2-only baseline's feature grid [1, Dd, 16, 16] (whole image resized to 224). */
  async dinoGrid(img: ImageRef): Promise<HostTensor> {
    const provider = await this.sd.plannedProvider();
    const key = cacheKey('dino-grid', this.dino!.model, img.key, !!img.flip, ...frameKey(img), ...providerKey(provider));
    return this.cache.getOrCompute(
      'dino',
      key,
      async () => {
        const pixels = await loadImageForDino(img.file, { flip: img.flip, orient: img.orient, fill: true });
        const out = (await (await this.dinoRunner()).run({ pixel_values: pixels }, ['last_hidden_state'])).last_hidden_state;
        const [, T, D] = out.dims;
        const side = Math.round(Math.sqrt(T - 1));
        const src = out.data as Float32Array;
        const grid = new Float32Array(D * side * side);
        for (let p = 0; p < side * side; p++) for (let d = 0; d < D; d++) grid[d * side * side + p] = src[(p + 1) * D + d];
        return { dtype: 'float32', dims: [1, D, side, side], data: grid };
      },
      provider,
    );
  }

  /** CPM hidden states [1, 77, D] for a pair. */
  async cpmHiddenStates(src: ImageRef, trg: ImageRef): Promise<HostTensor> {
    const p = this.learned!;
    const [sp, tp] = [await this.dinoPatches(src), await this.dinoPatches(trg)];
    const dims = { B: 1, dino: sp.dims[2], hidden: this.sd.folder.hiddenSize, ...CPM_DEFAULTS };
    const session = await this.sd.sessions.get(`cpm:${dims.dino}:${dims.hidden}`, () => buildCpmGraph(dims));
    const feeds: Record<string, HostTensor> = { src_patches: sp, trg_patches: tp, sos_eos_embeds: p.tensors.sos_eos_embeds };
    for (const k of CPM_PARAMS) feeds[k] = p.tensors[k];
    const tokens = (await session.run(feeds, ['token_embeds'])).token_embeds;
    return this.sd.encodeEmbeds(tokens);
  }

  async dispose(): Promise<void> {
    if (this.dinoSession) await (await this.dinoSession).dispose();
  }
}

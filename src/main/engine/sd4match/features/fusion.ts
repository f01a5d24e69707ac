/**
 * The feature choice: Stable Diffusion features (the prompt's), DINOv2 features, or both fused as
 * the zero-shot recipe of "A Tale of Two Features" and GeoAware-SC does it: each map L2-normalised
 * along channels per location, DINOv2's patch grid resampled to the SD feature grid (bilinear,
 * half-pixel centres, as torch's interpolate with align_corners=False), concatenated as
 * [w · sd, (1 - w) · dino]. The parts come from the pipeline's caches (SD features per prompt,
 * the DINOv2 grid per image); resampling and fusing are cheap and not cached.
 */
import { AppError } from '../../../shared/errors.js';
import type { HostTensor } from '../../onnx/ir.js';
import type { TensorCache } from '../../cache/tensor-cache.js';
import type { DinoFolder } from '../model/model-folder.js';
import type { SdModel } from '../model/sd-model.js';
import { describePrompt, type ImageRef, Pipeline, type PipelineSettings, type PromptSpec } from './pipeline.js';

export const FEATURE_SOURCES = ['sd', 'dino', 'sd+dino'] as const;
export type FeatureSource = (typeof FEATURE_SOURCES)[number];

/** Which features the matcher compares; `weight` is SD's share in `sd+dino` (DINOv2 gets 1 - weight). */
export interface FeatureChoice {
  features: FeatureSource;
  weight: number;
}

/** GeoAware-SC's default: equal shares. */
export const DEFAULT_FUSION_WEIGHT = 0.5;
export const SD_FEATURES: FeatureChoice = { features: 'sd', weight: DEFAULT_FUSION_WEIGHT };

/** Checks a feature choice given by a user (flag, request); `what` names where it came from. */
export function checkFeatureChoice(c: FeatureChoice, what = '--features'): FeatureChoice {
  if (!FEATURE_SOURCES.includes(c.features)) throw new AppError('INVALID_ARGUMENT', `${what} must be one of ${FEATURE_SOURCES.join(', ')}, got '${c.features}'`);
  if (!Number.isFinite(c.weight) || c.weight < 0 || c.weight > 1) throw new AppError('INVALID_ARGUMENT', `the fusion weight must be a number from 0 to 1, got ${c.weight}`);
  return c;
}

/**
 * Refuses a feature choice its inputs cannot serve, before any work: DINOv2 features need a
 * DINOv2 model folder, and the fusion's SD part needs a prompt other than the DINOv2 baseline.
 */
export function requireFeatureInputs(c: FeatureChoice, prompt: PromptSpec, hasDino: boolean): void {
  checkFeatureChoice(c);
  if (c.features !== 'sd' && !hasDino) {
    throw new AppError('INVALID_ARGUMENT', `--features ${c.features} needs a DINOv2 model folder (--dino-dir, or a DINOv2 model chosen in the window)`);
  }
  if (c.features === 'sd+dino' && prompt.kind === 'dino') {
    throw new AppError('INVALID_ARGUMENT', `--features sd+dino takes its SD part from a prompt (empty, template or learned), not the DINOv2 baseline`);
  }
}

/** How reports and tables name the features: "SD+DINOv2 (w=0.5)", "DINOv2 (SD grid)", or "" for SD alone. */
export function featureLabel(c: FeatureChoice): string {
  if (c.features === 'sd') return '';
  if (c.features === 'dino') return 'DINOv2 (SD grid)';
  return `SD+DINOv2 (w=${Number(c.weight.toFixed(3))})`;
}

/** The method label of a run: the prompt's name, with the feature label in front when not SD alone. */
export function methodLabel(promptName: string, c: FeatureChoice | undefined): string {
  if (!c || c.features === 'sd') return promptName;
  if (c.features === 'dino') return featureLabel(c);
  return `${featureLabel(c)}, ${promptName}`;
}

/**
 * Bilinear resampling of [1, C, h, w] to [1, C, H, W] with half-pixel centres (torch's
 * F.interpolate(mode='bilinear', align_corners=False), no antialiasing): output cell (i, j) reads
 * the input at ((i + 0.5) · h / H - 0.5, (j + 0.5) · w / W - 0.5), clamped at 0 below and at the
 * last cell above.
 */
export function resampleBilinear(t: HostTensor, H: number, W: number): HostTensor {
  const [B, C, h, w] = t.dims;
  if (B !== 1) throw new AppError('INTERNAL', `resampleBilinear takes one feature map, got batch ${B}`);
  const src = t.data as Float32Array;
  if (h === H && w === W) return { dtype: 'float32', dims: [1, C, H, W], data: src.slice() };
  const axis = (n: number, N: number) => {
    const i0 = new Int32Array(N);
    const i1 = new Int32Array(N);
    const f = new Float32Array(N);
    for (let o = 0; o < N; o++) {
      const s = Math.max(0, ((o + 0.5) * n) / N - 0.5);
      const a = Math.min(Math.floor(s), n - 1);
      i0[o] = a;
      i1[o] = Math.min(a + 1, n - 1);
      f[o] = s - a;
    }
    return { i0, i1, f };
  };
  const ys = axis(h, H);
  const xs = axis(w, W);
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    const plane = src.subarray(c * h * w, (c + 1) * h * w);
    for (let y = 0; y < H; y++) {
      const r0 = ys.i0[y] * w;
      const r1 = ys.i1[y] * w;
      const fy = ys.f[y];
      for (let x = 0; x < W; x++) {
        const fx = xs.f[x];
        const top = plane[r0 + xs.i0[x]] * (1 - fx) + plane[r0 + xs.i1[x]] * fx;
        const bottom = plane[r1 + xs.i0[x]] * (1 - fx) + plane[r1 + xs.i1[x]] * fx;
        out[c * H * W + y * W + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { dtype: 'float32', dims: [1, C, H, W], data: out };
}

/**
 * [w · n(sd), (1 - w) · n(dino)] along channels, n dividing each location's vector by its L2 norm
 * (F.normalize's max(‖x‖, 1e-12), so an all-zero location stays zero). Both maps [1, C, h, w] on
 * the same grid.
 */
export function fuseFeatures(sd: HostTensor, dino: HostTensor, weight: number): HostTensor {
  const [, Cs, h, w] = sd.dims;
  const [, Cd, h2, w2] = dino.dims;
  if (h !== h2 || w !== w2) throw new AppError('INTERNAL', `fusing feature maps on different grids: SD ${h}x${w}, DINOv2 ${h2}x${w2}`);
  const hw = h * w;
  const out = new Float32Array((Cs + Cd) * hw);
  const put = (t: HostTensor, C: number, offset: number, scale: number) => {
    const d = t.data as Float32Array;
    for (let p = 0; p < hw; p++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += d[c * hw + p] ** 2;
      const k = scale / Math.max(Math.sqrt(ss), 1e-12);
      for (let c = 0; c < C; c++) out[(offset + c) * hw + p] = d[c * hw + p] * k;
    }
  };
  put(sd, Cs, 0, weight);
  put(dino, Cd, Cs, 1 - weight);
  return { dtype: 'float32', dims: [1, Cs + Cd, h, w], data: out };
}

/**
 * A pipeline whose pair features follow a feature choice. `sd` is the prompt's features as
 * `Pipeline` computes them. `dino` is the DINOv2-only baseline's patch grid (the DINOv2 graphs take
 * 224 x 224 only, so 16 x 16) resampled to the SD feature grid, so that it matches on the same
 * grid as the SD features. `sd+dino` fuses the two; at w = 1 (w = 0) the other part has no weight
 * and is not computed: the map is then SD's (DINOv2's) as the single choice gives it, unnormalised.
 * Normalising per location first would change how the matcher interpolates source descriptors
 * between cells (it samples the raw map bilinearly, then normalises): on the tiny fixtures at
 * 384 px that moved kernel soft-argmax matches by up to 0.4 px and soft-argmax ones by 2.3 px,
 * where the end points should be the single-feature results exactly.
 */
export class FeaturePipeline extends Pipeline {
  constructor(
    sd: SdModel,
    prompt: PromptSpec,
    settings: PipelineSettings,
    cache: TensorCache,
    dino: DinoFolder | null,
    readonly choice: FeatureChoice,
  ) {
    requireFeatureInputs(choice, prompt, dino !== null);
    // `dino` ignores the prompt: give the base class one that needs nothing (no tokenizer, no file)
    super(sd, choice.features === 'dino' ? { kind: 'dino' } : prompt, settings, cache, dino);
  }

  override get label(): string {
    return methodLabel(describePrompt(this.prompt), this.choice);
  }

  /** The SD feature grid (h, w) at this pipeline's image size, from the feature graph's output shape. */
  sdGrid(): [number, number] {
    const L = this.sd.latentSize(this.settings.size);
    const out = this.sd.featureGraph(1, 1, L, L).model.graph.outputs.find((o) => o.name === 'features');
    const shape = out?.shape;
    if (!shape || typeof shape[2] !== 'number' || typeof shape[3] !== 'number') throw new AppError('INTERNAL', `the feature graph does not state its feature grid at size ${this.settings.size}`);
    return [shape[2], shape[3]];
  }

  /** DINOv2 features of an image on the SD feature grid [1, Dd, h, w]. */
  async dinoOnSdGrid(img: ImageRef): Promise<HostTensor> {
    const [h, w] = this.sdGrid();
    return resampleBilinear(await this.dinoGrid(img), h, w);
  }

  override async pairFeatures(src: ImageRef, trg: ImageRef, category: string): Promise<{ src: HostTensor; trg: HostTensor }> {
    const { features, weight } = this.choice;
    if (features === 'sd' || (features === 'sd+dino' && weight === 1)) return super.pairFeatures(src, trg, category);
    if (features === 'dino' || weight === 0) return { src: await this.dinoOnSdGrid(src), trg: await this.dinoOnSdGrid(trg) };
    const sd = await super.pairFeatures(src, trg, category);
    return { src: fuseFeatures(sd.src, await this.dinoOnSdGrid(src), weight), trg: fuseFeatures(sd.trg, await this.dinoOnSdGrid(trg), weight) };
  }
}

/**
 * The pipeline for a feature choice: the plain `Pipeline` for SD alone (or no choice), so that
 * everything computed before feature choices existed stays as it was.
 */
export function createPipeline(sd: SdModel, prompt: PromptSpec, settings: PipelineSettings, cache: TensorCache, dino: DinoFolder | null, choice?: FeatureChoice): Pipeline {
  if (!choice || choice.features === 'sd') return new Pipeline(sd, prompt, settings, cache, dino);
  return new FeaturePipeline(sd, prompt, settings, cache, dino, choice);
}

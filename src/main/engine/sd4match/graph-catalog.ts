/**
 * The graphs the workstation runs, built as the pipeline builds them (same builders, same session
 * options), for tools that look at a graph rather than run the pipeline: node placement per
 * execution provider (`graph placement`, onnx/placement.ts). Shapes are small by default (an
 * image of `size` pixels, one pair, a few keypoints): placement depends on the op types and
 * the providers' kernels, not on the sizes, except where the attention rewrite picks blocked
 * attention for large sequences (then ask for a larger `size`).
 */
import { REMAT_DEFAULTS } from '../autodiff/patterns.js';
import { AppError } from '../../shared/errors.js';
import { buildVjp } from '../autodiff/backprop.js';
import { type AttentionRewriteOptions, attentionOptions, rewriteAttention } from '../onnx/attention.js';
import type { HostTensor, Model } from '../onnx/ir.js';
import { loadModel } from '../onnx/model-io.js';
import type { SessionOptions } from '../onnx/runtime.js';
import { specialize } from '../onnx/specialize.js';
import { Generator } from './generation/generate.js';
import { buildMatchingModel, DEFAULT_MATCH, MATCH_METHODS } from './matching/matching.js';
import type { DinoFolder } from './model/model-folder.js';
import { buildFeatureGraph, type SdModel } from './model/sd-model.js';
import { CONTEXT_LENGTH } from './model/tokenizer.js';
import { buildCpmGraph, CPM_DEFAULTS, CPM_PARAMS } from './prompts/cpm.js';
import { buildTrainingGraph } from './training/loss-grad-graph.js';
import { StepGraph } from './training/step-graph-cache.js';

/** The workstation's graphs, by the name `graph placement --graph` takes. */
export const WORKSTATION_GRAPHS = ['features', 'train-step', 'text-vjp', 'cpm', 'generate-unet', 'generate-decoder', 'match'] as const;
export type WorkstationGraph = (typeof WORKSTATION_GRAPHS)[number];

export function isWorkstationGraph(v: string): v is WorkstationGraph {
  return (WORKSTATION_GRAPHS as readonly string[]).includes(v);
}

/** One session's graph: what it is built from, its session options, and shapes for a run. */
export interface GraphPart {
  /** e.g. `vae-encoder`, `unet-features`. */
  label: string;
  model: Model | string;
  session: Omit<SessionOptions, 'providers' | 'profileFilePrefix'>;
  /** Shapes of inputs the graph leaves symbolic. */
  shapes?: Record<string, number[]>;
  feeds?: Record<string, HostTensor>;
}

export interface CatalogOptions {
  /** Image side in pixels (a multiple of 8; default 64). */
  size?: number;
  /** Keypoints per image (default 4). */
  keypoints?: number;
  /** The DINOv2 folder: CPM's graphs take its width, and its own session is listed with them. */
  dino?: DinoFolder | null;
  /**
   * Overrides of the attention rewrite (attention.ts) for the graphs that rewrite attention
   * (features, train-step, generate-*): e.g. `{ minBytes: 0 }` rewrites the attention of small
   * graphs too, as a full-size model's is. Without it the graphs are built as the pipeline builds
   * them (and the step graph comes from, or goes to, the model's cache).
   */
  attention?: Partial<AttentionRewriteOptions>;
}

/** DINOv2-B/14's width, CPM's when no DINOv2 folder is given. */
const DINO_B_WIDTH = 768;

/**
 * The sessions a workstation graph runs as, in the order the pipeline opens them. `features` is
 * what `eval` and feature caching run per image (VAE encoder, embed and text encoder graphs for
 * the prompt, the UNet feature graph); `train-step` the trainer's step graph (built into the
 * model's cache like the trainer's); `text-vjp` the text encoder's VJP w.r.t. its input
 * embeddings (as `graph vjp` builds it); `cpm` CPM's forward and VJP graphs (and DINOv2 when its
 * folder is given); `generate-*` the generator's UNet and VAE decoder; `match` the matching graph
 * with every method.
 */
export function workstationGraph(sd: SdModel, which: string, o: CatalogOptions = {}): GraphPart[] {
  if (!isWorkstationGraph(which)) throw new AppError('INVALID_ARGUMENT', `unknown graph '${which}'; expected one of: ${WORKSTATION_GRAPHS.join(', ')}`);
  const size = o.size ?? 64;
  const lat = sd.latentSize(size);
  const N = o.keypoints ?? 4;
  const D = sd.folder.hiddenSize;
  switch (which) {
    case 'features':
      return [
        { label: 'vae-encoder', model: sd.folder.vaeEncoder, session: { graphOptimization: 'all' }, shapes: { sample: [1, 3, size, size] } },
        { label: 'embed', model: sd.compiled.embed, session: {}, shapes: { input_ids: [1, CONTEXT_LENGTH] } },
        { label: 'text-encoder', model: sd.compiled.textFromEmbeds, session: {}, shapes: { inputs_embeds: [1, CONTEXT_LENGTH, D] } },
        { label: 'unet-features', model: o.attention ? featureGraphWith(sd, lat, o.attention) : sd.featureGraph(1, 1, lat, lat).model, session: {} },
      ];
    case 'train-step': {
      if (o.attention) return [{ label: 'train-step', model: stepGraphWith(sd, N, lat, size, o.attention), session: { constantFolding: false } }];
      const step = new StepGraph(sd, { B: 1, N, h: lat, w: lat, latents: 'moments', frame: { h: size, w: size } });
      step.build();
      return [{ label: 'train-step', model: `${step.dir}/step.onnx`, session: { constantFolding: false } }];
    }
    case 'text-vjp': {
      const spec = specialize(loadModel(sd.compiled.textFromEmbeds), { inputs_embeds: [1, CONTEXT_LENGTH, D] });
      return [{ label: 'text-vjp', model: buildVjp(spec, { wrt: ['inputs_embeds'] }).model, session: {} }];
    }
    case 'cpm': {
      const dims = { B: 1, dino: o.dino?.hiddenSize || DINO_B_WIDTH, hidden: D, ...CPM_DEFAULTS };
      const g = buildCpmGraph(dims);
      // the trainer's VJP graph: token_embeds only, gradients of every parameter (prompts/kinds/cpm.ts)
      g.graph.outputs = g.graph.outputs.filter((x) => x.name === 'token_embeds');
      const shapes = Object.fromEntries(g.graph.inputs.map((i) => [i.name, i.shape as number[]]));
      const parts: GraphPart[] = [
        { label: 'cpm-forward', model: buildCpmGraph(dims), session: {} },
        { label: 'cpm-vjp', model: buildVjp(specialize(g, shapes), { wrt: [...CPM_PARAMS] }).model, session: {} },
      ];
      if (o.dino) parts.unshift({ label: 'dinov2', model: o.dino.model, session: {}, shapes: { pixel_values: [1, 3, 224, 224] } });
      return parts;
    }
    case 'generate-unet':
      // the generator keeps the CPU arena for its UNet (generate.ts)
      return [{ label: 'generate-unet', model: new Generator(sd.folder, { attention: forProvider(sd, o.attention) }).unetGraph(lat, lat).model, session: { memArena: true } }];
    case 'generate-decoder':
      return [{ label: 'generate-decoder', model: new Generator(sd.folder, { attention: forProvider(sd, o.attention) }).decoderGraph(lat, lat).model, session: { graphOptimization: 'all' } }];
    case 'match': {
      const f = sd.featureGraph(1, 1, lat, lat).model.graph.outputs.find((x) => x.name === 'features')!;
      const [, C, h, w] = f.shape as number[];
      return [{ label: 'match', model: buildMatchingModel({ B: 1, N, C, h1: h, w1: w, h2: h, w2: w }, MATCH_METHODS, DEFAULT_MATCH), session: {} }];
    }
  }
}

/**
 * Attention overrides for the provider the model's sessions are planned on, once known
 * (SdModel.providerHint): the attention form depends on it (attention.ts), as the pipeline's own
 * graphs do (the feature and step graphs read the hint themselves).
 */
function forProvider(sd: SdModel, attention: Partial<AttentionRewriteOptions> | undefined): Partial<AttentionRewriteOptions> | undefined {
  return sd.providerHint ? { provider: sd.providerHint, ...attention } : attention;
}

/** The feature graph for one image and one draw (SdModel.featureGraph) with the attention rewrite overridden. */
function featureGraphWith(sd: SdModel, lat: number, attention: Partial<AttentionRewriteOptions>): Model {
  const f = sd.folder;
  const g = buildFeatureGraph(loadModel(sd.compiled.unetFeatures), {
    B: 1,
    K: 1,
    c: f.latentChannels,
    h: lat,
    w: lat,
    seq: CONTEXT_LENGTH,
    hidden: f.hiddenSize,
    scalingFactor: f.scalingFactor,
    timestepShape: f.timestepRank === 0 ? [] : [1],
    timestepDtype: f.timestepDtype,
  });
  // the default rewrite left the small cores as exported: rewrite them with the overrides
  return rewriteAttention(g.model, g.info, { ...attentionOptions(sd.providerHint), ...attention }).model;
}

/** The trainer's step graph (StepGraph, one pair) with the attention rewrite and its recomputing backward overridden; not cached. */
function stepGraphWith(sd: SdModel, N: number, lat: number, size: number, attention: Partial<AttentionRewriteOptions>): Model {
  const f = sd.folder;
  const dims = {
    B: 1,
    P: 1,
    N,
    c: f.latentChannels,
    h: lat,
    w: lat,
    seq: CONTEXT_LENGTH,
    hidden: f.hiddenSize,
    scalingFactor: f.scalingFactor,
    timestepShape: f.timestepRank === 0 ? [] : [-1],
    timestepDtype: f.timestepDtype,
    latents: 'moments' as const,
    frame: { h: size, w: size },
  };
  // the override reaches the backward too: the cores it rewrites are differentiated per query block (patterns.ts)
  const rematerialize = { attentionMinBytes: attention.minBytes ?? REMAT_DEFAULTS.attentionMinBytes, blockBytes: attention.blockBytes ?? REMAT_DEFAULTS.blockBytes };
  return buildTrainingGraph(loadModel(sd.compiled.unetFeatures), loadModel(sd.compiled.textFromEmbeds), dims, { attention: forProvider(sd, attention), rematerialize }).model;
}

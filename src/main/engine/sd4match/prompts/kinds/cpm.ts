/**
 * SD4Match-CPM: the conditional prompting module (../cpm.ts) turns DINOv2 patches of a pair into
 * its prompt [SOS, global, cond, EOS]; the trainer learns the module's parameters. The step
 * graph's gradient of the token embeddings reaches them through the module's VJP graph; its
 * linear layers train at a fraction of the learning rate (the paper: 1e-3 vs 1e-2).
 */
import { AppError } from '../../../../shared/errors.js';
import { buildVjp } from '../../../autodiff/backprop.js';
import { concatBatch } from '../../../graph/batching.js';
import type { HostTensor } from '../../../onnx/ir.js';
import { specialize } from '../../../onnx/specialize.js';
import { buildCpmGraph, CPM_DEFAULTS, CPM_PARAMS, type CpmDims, cpmEosPosition, cpmParamShapes } from '../cpm.js';
import type { EvalPair } from '../../matching/evaluate.js';
import { idsTensor, tokenizerOf } from '../prompts.js';
import type { Rng } from '../../features/random.js';
import { contextIds } from '../../model/tokenizer.js';
import { rows } from '../token-rows.js';
import type { BatchPrompts, Params, PromptContext, PromptKindSpec, PromptStrategy } from './strategy.js';

/** A batch's prompts and the CPM feeds that made them (its VJP runs on the same feeds). */
interface CpmBatch extends BatchPrompts {
  feeds: Record<string, HostTensor>;
}

function f32(dims: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data };
}

class CpmPrompts implements PromptStrategy<CpmBatch> {
  readonly kind = 'cpm';
  /** [1, 2, D]: the embedding rows of SOS and EOS at their positions in CPM's prompt. */
  private sosEos: HostTensor | null = null;

  constructor(private readonly ctx: PromptContext) {}

  private dims(B: number, dino: number): CpmDims {
    return { B, dino, hidden: this.ctx.sd.folder.hiddenSize, ...CPM_DEFAULTS };
  }

  async init(rng: Rng): Promise<Params> {
    const { sd, pipe, train } = this.ctx;
    const tok = tokenizerOf(sd);
    const eos = cpmEosPosition(CPM_DEFAULTS);
    const fixed = await sd.embedIds(idsTensor(contextIds(tok, new Array(eos - 1).fill(tok.pad))));
    const D = sd.folder.hiddenSize;
    const sosEos = new Float32Array(2 * D);
    sosEos.set(rows(fixed, 0, 1).data as Float32Array, 0);
    sosEos.set(rows(fixed, eos, eos + 1).data as Float32Array, D);
    this.sosEos = f32([1, 2, D], sosEos);
    // the DINOv2 width, from the patches of a training image (exports do not always declare it)
    const width = (await pipe.dinoPatches(train[0].src)).dims[2];
    const shapes = cpmParamShapes(this.dims(1, width));
    const params: Params = {};
    for (const name of CPM_PARAMS) {
      const shape = shapes[name];
      const n = shape.reduce((a, b) => a * b, 1);
      if (name.startsWith('linear_')) {
        // PyTorch's nn.Linear default: U(-1/√fan_in, 1/√fan_in) for weight and bias
        const fanIn = name.startsWith('linear_C') ? shapes.linear_C_weight[1] : shapes.linear_N_weight[1];
        const b = 1 / Math.sqrt(fanIn);
        params[name] = f32(shape, rng.uniforms(n, -b, b));
      } else {
        params[name] = f32(shape, rng.uniforms(n, 0, 1));
      }
    }
    return params;
  }

  private get sosEosRows(): HostTensor {
    if (!this.sosEos) throw new AppError('INTERNAL', 'cpm prompts used before init');
    return this.sosEos;
  }

  /** One prompt per pair, from the DINOv2 patches of its source and target. */
  async batchPrompts(batch: EvalPair[], params: Params): Promise<CpmBatch> {
    const { sd, pipe } = this.ctx;
    const src = await Promise.all(batch.map((p) => pipe.dinoPatches(p.src)));
    const trg = await Promise.all(batch.map((p) => pipe.dinoPatches(p.trg)));
    const feeds: Record<string, HostTensor> = { src_patches: concatBatch(src), trg_patches: concatBatch(trg), sos_eos_embeds: this.sosEosRows };
    for (const k of CPM_PARAMS) feeds[k] = params[k];
    const dims = this.dims(batch.length, src[0].dims[2]);
    const session = await sd.sessions.get(`cpm-fwd:${dims.B}:${dims.dino}`, () => buildCpmGraph(dims));
    const tokens = (await session.run(feeds, ['token_embeds'])).token_embeds;
    return { tokens, promptOf: batch.map((_, i) => i), feeds };
  }

  /** The module's VJP for the cotangent d loss / d token_embeds [B, 77, D]. */
  async paramGrads(prompts: CpmBatch, gradTokens: HostTensor): Promise<Params> {
    const { feeds } = prompts;
    const dims = this.dims(gradTokens.dims[0], feeds.src_patches.dims[2]);
    let names: Record<string, string> = {};
    let cotName = '';
    const session = await this.ctx.sd.sessions.get(`cpm-vjp:${dims.B}:${dims.dino}`, () => {
      const g = buildCpmGraph(dims);
      g.graph.outputs = g.graph.outputs.filter((o) => o.name === 'token_embeds');
      const shapes = Object.fromEntries(g.graph.inputs.map((i) => [i.name, i.shape as number[]]));
      const v = buildVjp(specialize(g, shapes), { wrt: [...CPM_PARAMS] });
      names = v.gradOutputs;
      cotName = v.cotangentInput!;
      return v.model;
    });
    // a session from the cache was built by an earlier call: find the names in it
    if (!cotName) {
      cotName = session.inputNames.find((n) => n.startsWith('grad_token_embeds'))!;
      names = Object.fromEntries(CPM_PARAMS.map((p) => [p, session.outputNames.find((n) => n === `grad_${p}` || n.startsWith(`grad_${p}_`))!]));
    }
    const out = await session.run({ ...feeds, [cotName]: gradTokens });
    return Object.fromEntries(CPM_PARAMS.map((p) => [p, out[names[p]]]));
  }

  learningRate(name: string, lr: number): number {
    return name.startsWith('linear_') ? lr * this.ctx.cfg.linearLrScale : lr;
  }

  promptFile(params: Params): { tensors: Record<string, HostTensor>; categories: string[] } {
    const tensors: Record<string, HostTensor> = {};
    for (const k of CPM_PARAMS) tensors[k] = params[k];
    tensors.sos_eos_embeds = this.sosEosRows;
    return { tensors, categories: [] };
  }
}

export const CPM: PromptKindSpec = {
  checkModels(dino) {
    if (!dino) throw new AppError('INVALID_ARGUMENT', 'CPM prompts need a DINOv2 model folder (--dino-dir)');
  },
  promptsPerStep: (B) => B,
  create: (ctx) => new CpmPrompts(ctx),
};

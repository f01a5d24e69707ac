/**
 * What the Compare view computes: each prompt's predictions for a pair's source keypoints, and the
 * similarity map of one source point on the target; and the memory estimates (memory/estimates.ts)
 * on the models it holds. Runs in the inference worker, which keeps the models, sessions and
 * feature caches warm between clicks.
 */
import type { MemoryCheck } from '../../contract/index.js';
import { AppError } from '../../shared/errors.js';
import { benchmarkOf, toEvalPair } from '../../engine/datasets/pair-geometry.js';
import { SessionCache } from '../../engine/onnx/session-cache.js';
import { type Benchmark, pckThreshold } from '../../engine/sd4match/matching/evaluate.js';
import { type MatchMethod, matchKeypoints } from '../../engine/sd4match/matching/matching.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import type { Pipeline } from '../../engine/sd4match/features/pipeline.js';
import { createPipeline, DEFAULT_FUSION_WEIGHT, type FeatureChoice, type FeatureSource, methodLabel } from '../../engine/sd4match/features/fusion.js';
import { checkFeaturesFit } from '../../engine/sd4match/memory/memory-estimate.js';
import { Generator } from '../../engine/sd4match/generation/generate.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import type { Services } from '../app/context.js';
import { estimateFeatures, estimateGeneration, estimateTraining, type TrainingEstimateInput } from '../memory/estimates.js';
import { promptSpecOf } from '../prompts/resolve.js';

export interface CompareSettings {
  modelId: number;
  dinoModelId?: number;
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
  /** SD features (default), DINOv2 on the SD grid, or both fused with SD's share `fusionWeight`. */
  features?: FeatureSource;
  fusionWeight?: number;
}

/** The feature choice of a request (SD alone when it names none). */
function choiceOf(s: CompareSettings): FeatureChoice {
  return { features: s.features ?? 'sd', weight: s.fusionWeight ?? DEFAULT_FUSION_WEIGHT };
}

/** Each prompt's predictions for a pair's source keypoints, judged at `alpha` under `method`. */
export interface PredictRequest extends CompareSettings {
  pairId: number;
  promptIds: number[];
  alpha: number;
  method: MatchMethod;
}

/** Each prompt's similarity map of one source point (source-image pixels) on the target. */
export interface HeatmapRequest extends CompareSettings {
  pairId: number;
  promptIds: number[];
  point: [number, number];
}

export class CompareService {
  private readonly models = new Map<number, SdModel>();
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly sessions = new SessionCache(4);
  /** Generation graphs and their memory plans per model (for estimates; no session is opened). */
  private readonly generators = new Map<number, Generator>();

  constructor(private readonly svc: Services) {}

  private model(id: number): SdModel {
    let m = this.models.get(id);
    if (!m) {
      const rec = this.svc.repos.models.get(id);
      if (!rec) throw new AppError('NOT_FOUND', `no model with id ${id}`);
      m = SdModel.open(rec.folder, { cacheDir: this.svc.cacheDir });
      this.models.set(id, m);
    }
    return m;
  }

  private async pipeline(promptId: number, s: CompareSettings): Promise<{ pipe: Pipeline; name: string }> {
    const choice = choiceOf(s);
    const key = JSON.stringify([promptId, s.modelId, s.dinoModelId ?? null, s.size, s.timestep, s.ensemble, s.seed, choice.features, choice.weight]);
    const resolved = promptSpecOf(this.svc, promptId);
    const { spec } = resolved;
    const name = methodLabel(resolved.name, choice);
    let pipe = this.pipelines.get(key);
    if (!pipe) {
      let dino = null;
      if (resolved.needsDino || choice.features !== 'sd') {
        if (!s.dinoModelId) throw new AppError('INVALID_ARGUMENT', `${name} needs a DINOv2 model: choose one`);
        const rec = this.svc.repos.models.get(s.dinoModelId);
        if (!rec) throw new AppError('NOT_FOUND', `no model with id ${s.dinoModelId}`);
        dino = inspectDinoFolder(rec.folder);
      }
      const sd = this.model(s.modelId);
      // say so before a request the machine cannot hold, rather than lose the inference process
      checkFeaturesFit(sd, s.size, s.ensemble, await sd.provider());
      pipe = createPipeline(sd, spec, { size: s.size, timestep: s.timestep, ensemble: s.ensemble, seed: s.seed }, this.svc.tensors, dino, choice);
      this.pipelines.set(key, pipe);
    }
    return { pipe, name };
  }

  private pair(pairId: number) {
    const r = this.svc.repos.pairs.get(pairId);
    if (!r) throw new AppError('NOT_FOUND', `no pair with id ${pairId}`);
    const pair = toEvalPair(r.split === 'trn' ? r : { ...r, flip: 0 });
    return { pair, benchmark: benchmarkOf(r.format) as Benchmark };
  }

  async predict(a: PredictRequest) {
    const { pair, benchmark } = this.pair(a.pairId);
    const S = a.size;
    const threshold = pckThreshold(pair, benchmark, 'original', S);
    const n = pair.srcKps.length;
    const kps = new Float32Array(pair.srcKps.flatMap(([x, y]) => [(x * S) / pair.src.width, (y * S) / pair.src.height]));
    const predictions = [];
    for (const promptId of a.promptIds) {
      const { pipe, name } = await this.pipeline(promptId, a);
      const f = await pipe.pairFeatures(pair.src, pair.trg, pair.category);
      const res = await matchKeypoints(this.sessions, { srcFeatures: f.src, trgFeatures: f.trg, srcKps: kps, N: n, srcFrame: { h: S, w: S }, trgFrame: { h: S, w: S } }, [a.method]);
      const m = res.matches[a.method]!;
      const matches: [number, number][] = [];
      const errors: number[] = [];
      for (let i = 0; i < n; i++) {
        const x = (m[2 * i] * pair.trg.width) / S;
        const y = (m[2 * i + 1] * pair.trg.height) / S;
        matches.push([x, y]);
        errors.push(Math.hypot(x - pair.trgKps[i][0], y - pair.trgKps[i][1]));
      }
      const correct = errors.map((e) => e <= a.alpha * threshold);
      predictions.push({ promptId, prompt: name, matches, errors, correct, pck: n ? correct.filter(Boolean).length / n : 0 });
    }
    return { predictions, threshold };
  }

  async heatmap(a: HeatmapRequest) {
    const { pair } = this.pair(a.pairId);
    const S = a.size;
    const [px, py] = a.point;
    if (px < 0 || py < 0 || px > pair.src.width || py > pair.src.height) {
      throw new AppError('INVALID_ARGUMENT', `point (${px}, ${py}) lies outside the source image (${pair.src.width}x${pair.src.height})`);
    }
    const kps = Float32Array.from([(px * S) / pair.src.width, (py * S) / pair.src.height]);
    const heatmaps = [];
    for (const promptId of a.promptIds) {
      const { pipe } = await this.pipeline(promptId, a);
      const f = await pipe.pairFeatures(pair.src, pair.trg, pair.category);
      const res = await matchKeypoints(this.sessions, { srcFeatures: f.src, trgFeatures: f.trg, srcKps: kps, N: 1, srcFrame: { h: S, w: S }, trgFrame: { h: S, w: S } }, ['kernelsoftmax'], undefined, {
        correlation: true,
      });
      const [, , h, w] = f.trg.dims;
      const m = res.matches.kernelsoftmax!;
      heatmaps.push({
        promptId,
        width: w,
        height: h,
        values: Array.from(res.correlation!.data as Float32Array, (v) => Math.round(v * 1e4) / 1e4),
        match: [(m[0] * pair.trg.width) / S, (m[1] * pair.trg.height) / S] as [number, number],
      });
    }
    return { heatmaps };
  }

  /** What an evaluation or Compare request at these settings will need (services/memory/estimates.ts). */
  async estimateFeatures(a: { modelId: number; size: number; ensemble: number }): Promise<MemoryCheck> {
    return estimateFeatures(this.model(a.modelId), a);
  }

  /** What a training run with these settings will need (its step graph is built into the cache). */
  async estimateTraining(a: TrainingEstimateInput): Promise<MemoryCheck> {
    return estimateTraining(this.svc, this.model(a.modelId), a);
  }

  /** What generating at this size will need; nothing runs. */
  async estimateGeneration(a: { modelId: number; size: number }): Promise<MemoryCheck> {
    const sd = this.model(a.modelId);
    let gen = this.generators.get(a.modelId);
    if (!gen) this.generators.set(a.modelId, (gen = new Generator(sd.folder)));
    return estimateGeneration(sd, gen, a.size);
  }

  async dispose(): Promise<void> {
    for (const g of this.generators.values()) await g.dispose();
    for (const p of this.pipelines.values()) await p.dispose();
    for (const m of this.models.values()) await m.dispose();
    await this.sessions.clear();
  }
}

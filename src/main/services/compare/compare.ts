/**
 * Compare's use cases: the pairs to compare on (sorted by error under an evaluation), one pair's
 * view, and each prompt's predictions and similarity maps, which the long-lived inference process
 * computes (inference.ts) so that models and caches stay warm between clicks.
 */
import { AppError } from '../../shared/errors.js';
import { benchmarkOf, toEvalPair } from '../../engine/datasets/pair-geometry.js';
import { pckThreshold } from '../../engine/sd4match/matching/evaluate.js';
import { FEATURE_DEFAULTS } from '../../contract/runs.js';
import type { ComparePairRow, Heatmap, PairView, Prediction } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';
import { modelFolder, requireCategory } from '../app/context.js';
import type { CompareSettings, HeatmapRequest, PredictRequest } from './inference.js';
import { askInference } from './ask.js';

export type { CompareSettings, HeatmapRequest, PredictRequest };

/** A page of a split's pairs (of one category), sorted by error under `evalRunId` when given. */
export interface ComparePairsQuery {
  datasetId: number;
  split: 'trn' | 'val' | 'test';
  category?: string;
  evalRunId?: number;
  limit: number;
  offset: number;
}

export async function comparePairs(ctx: AppContext, a: ComparePairsQuery) {
  const svc = ctx.services();
  const ds = svc.repos.datasets.find(a.datasetId);
  if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  const categoryId = a.category ? requireCategory(svc, ds.id, ds.name, a.category) : undefined;
  const pairs = svc.repos.pairs.list({ datasetId: a.datasetId, split: a.split, categoryId });
  const errors = new Map<number, number>();
  if (a.evalRunId) for (const e of svc.repos.evalResults.list(a.evalRunId, 'kernelsoftmax')) errors.set(e.pairId, e.error);
  const rows: ComparePairRow[] = pairs.map((p) => ({
    id: p.id,
    name: p.name,
    category: p.category,
    srcImageId: p.src.imageId,
    trgImageId: p.trg.imageId,
    nPts: p.nPts,
    error: errors.get(p.id) ?? null,
  }));
  if (a.evalRunId) rows.sort((x, y) => (y.error ?? -1) - (x.error ?? -1));
  return { pairs: rows.slice(a.offset, a.offset + a.limit), total: rows.length };
}

export async function comparePair(ctx: AppContext, pairId: number): Promise<PairView> {
  const r = ctx.services().repos.pairs.get(pairId);
  if (!r) throw new AppError('NOT_FOUND', `no pair with id ${pairId}`);
  const p = toEvalPair(r.split === 'trn' ? r : { ...r, flip: 0 });
  return {
    id: r.id,
    name: r.name,
    category: r.category,
    split: r.split,
    src: { imageId: r.src.imageId, width: r.src.width, height: r.src.height, kps: p.srcKps, bbox: r.src.bbox },
    trg: { imageId: r.trg.imageId, width: r.trg.width, height: r.trg.height, kps: p.trgKps, bbox: r.trg.bbox },
    flags: p.flags ?? {},
    threshold: pckThreshold(p, benchmarkOf(r.format), 'original', FEATURE_DEFAULTS.size),
  };
}

export async function predict(ctx: AppContext, a: PredictRequest): Promise<{ predictions: Prediction[]; threshold: number }> {
  return askInference(ctx, 'predict', a);
}

export async function heatmap(ctx: AppContext, a: HeatmapRequest): Promise<{ heatmaps: Heatmap[] }> {
  return askInference(ctx, 'heatmap', a);
}

export async function estimateCompare(ctx: AppContext, a: { modelId: number; size: number; ensemble: number }) {
  modelFolder(ctx.services(), a.modelId, 'stable-diffusion');
  return askInference(ctx, 'estimateFeatures', a);
}

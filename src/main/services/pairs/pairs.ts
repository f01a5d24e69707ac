/** Use cases of the pairs domain: list with filters, one pair, build from annotations (job), move, delete. */
import { type BuildPairsRequest, planPairs, writePairs } from './build.js';
import type { Split } from '../../store/repositories/datasets.js';
import { DatasetsRepo } from '../../store/repositories/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import { PairsRepo } from '../../store/repositories/pairs.js';
import type { PairDetail } from '../../contract/index.js';
import { AppError } from '../../shared/errors.js';
import type { AppContext } from '../app/app.js';
import { storeOf } from '../app/catalog.js';

/** A page of a dataset's pairs (split order, then list order), filtered. */
export interface PairPageQuery {
  datasetId: number;
  split?: Split;
  categoryId?: number;
  search?: string;
  minPoints?: number;
  offset: number;
  limit: number;
}

/** Pairs of a dataset by id. */
export interface PairSelection {
  datasetId: number;
  ids: number[];
}

export async function listPairs(ctx: AppContext, { datasetId, split, categoryId, search, minPoints, offset, limit }: PairPageQuery) {
  return storeOf(ctx).read((db) => {
    if (!new DatasetsRepo(db).find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
    return new PairsRepo(db).summaries({ datasetId, split, categoryId, search: search || undefined, minPoints, offset, limit });
  });
}

export async function pairDetail(ctx: AppContext, id: number): Promise<PairDetail> {
  return storeOf(ctx).read((db) => {
    const p = new PairsRepo(db).get(id);
    if (!p) throw new AppError('NOT_FOUND', `no pair with id ${id}`);
    const images = new ImagesRepo(db);
    const points: [number, number, number, number][] = [];
    for (let i = 0; i < p.nPts; i++) points.push([p.src.kps[2 * i]!, p.src.kps[2 * i + 1]!, p.trg.kps[2 * i]!, p.trg.kps[2 * i + 1]!]);
    return {
      id: p.id,
      name: p.name,
      split: p.split,
      ordinal: p.ordinal,
      categoryId: p.categoryId,
      category: p.category,
      srcImageId: p.src.imageId,
      trgImageId: p.trg.imageId,
      srcPath: images.get(p.src.imageId)?.path ?? '',
      trgPath: images.get(p.trg.imageId)?.path ?? '',
      nPts: p.nPts,
      flags: p.flags,
      points,
      kpIds: p.kpIds,
      src: { width: p.src.width, height: p.src.height, bbox: p.src.bbox },
      trg: { width: p.trg.width, height: p.trg.height, bbox: p.trg.bbox },
      flip: p.flip,
    };
  });
}

export async function startPairBuild(ctx: AppContext, args: BuildPairsRequest) {
  const store = storeOf(ctx);
  const plan = await store.read((db) => planPairs(db, args));
  const title = `Build ${plan.pairs.length.toLocaleString('en-US')} ${plan.category.name} pair${plan.pairs.length === 1 ? '' : 's'} (${args.split})`;
  const { job } = ctx.jobs.run('pairs', title, async (task) => {
    const result = await writePairs(store, plan, args.split, task);
    ctx.events.emit('dataset:changed', { id: plan.dataset.id, reason: 'pairs' });
    return result;
  });
  return { jobId: job.id, planned: plan.pairs.length, skipped: plan.skipped };
}

export async function movePairs(ctx: AppContext, { datasetId, ids, split }: PairSelection & { split: Split }) {
  const moved = await storeOf(ctx).write((db) => {
    if (!new DatasetsRepo(db).find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
    const repo = new PairsRepo(db);
    let ordinal = repo.maxOrdinal(datasetId, split);
    let n = 0;
    for (const id of ids) {
      const p = repo.placement(id);
      if (!p || p.datasetId !== datasetId) throw new AppError('NOT_FOUND', `dataset ${datasetId} has no pair with id ${id}`);
      if (p.split === split) continue;
      const clash = repo.findByName(datasetId, split, p.name);
      if (clash) throw new AppError('CONFLICT', `${split} already has a pair named '${p.name}'; delete one of the two first`);
      repo.setSplit(id, split, ++ordinal);
      n++;
    }
    return n;
  });
  if (moved > 0) ctx.events.emit('dataset:changed', { id: datasetId, reason: 'pairs' });
  return { moved };
}

export async function deletePairs(ctx: AppContext, { datasetId, ids }: PairSelection) {
  const deleted = await storeOf(ctx).write((db) => {
    if (!new DatasetsRepo(db).find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
    return new PairsRepo(db).deleteInDataset(datasetId, ids);
  });
  if (deleted > 0) ctx.events.emit('dataset:changed', { id: datasetId, reason: 'pairs' });
  return { deleted };
}

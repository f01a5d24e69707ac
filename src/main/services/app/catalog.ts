/**
 * What several use cases share: the store of the application, one image access per store
 * (thumbnail generation is shared between the HTTP route, the Electron protocol and concurrent
 * requests), and the contract's views of store records (datasets, categories, import reports).
 */
import type { Db, Store } from '../../store/db.js';
import { type Category, DatasetsRepo, type DatasetSummary as StoreDatasetSummary, type Split } from '../../store/repositories/datasets.js';
import { PairsRepo } from '../../store/repositories/pairs.js';
import type { CategoryInfo, DatasetSummary, ImportReportInfo } from '../../contract/index.js';
import { EDITABLE_FORMATS } from '../annotations/editor.js';
import type { AppContext } from './app.js';
import { type ImageAccess, imageAccessOf } from '../images/access.js';

export function storeOf(ctx: AppContext): Store {
  return ctx.services().store;
}

/** The image access of the context's store (created on first use). */
export function imageAccess(ctx: AppContext): ImageAccess {
  return imageAccessOf(storeOf(ctx));
}

export function toDatasetSummary(d: StoreDatasetSummary): DatasetSummary {
  return {
    id: d.id,
    name: d.name,
    format: d.format,
    root: d.root,
    source: d.source,
    editable: EDITABLE_FORMATS.has(d.format),
    images: d.images,
    categories: d.categories,
    pairs: d.pairs,
    annotations: d.annotations,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** Categories of a dataset with their counts (one query per count, not per category). */
export function categoryInfos(db: Db, datasetId: number): CategoryInfo[] {
  const repo = new DatasetsRepo(db);
  const images = repo.imageCounts(datasetId);
  const annotated = repo.annotatedImageCounts(datasetId);
  const pairRows = new PairsRepo(db).countsByCategory(datasetId);
  return repo.categories(datasetId).map((c) =>
    toCategoryInfo(
      c,
      images.get(c.id) ?? 0,
      annotated.get(c.id) ?? 0,
      pairRows.filter((p) => p.categoryId === c.id),
    ),
  );
}

export function categoryInfo(db: Db, category: Category): CategoryInfo {
  return categoryInfos(db, category.datasetId).find((c) => c.id === category.id)!;
}

function toCategoryInfo(c: Category, images: number, annotated: number, pairRows: { split: Split; n: number }[]): CategoryInfo {
  const pairs: Record<Split, number> = { trn: 0, val: 0, test: 0 };
  for (const p of pairRows) pairs[p.split] = p.n;
  return { id: c.id, datasetId: c.datasetId, name: c.name, ordinal: c.ordinal, keypoints: c.keypoints, skeleton: c.skeleton, flipPairs: c.flipPairs, images, annotated, pairs };
}

/** An import report with its skipped entries capped (job results and details travel as small JSON). */
export function capReport(report: ImportReportInfo, max: number): ImportReportInfo {
  if (report.skipped.length <= max) return report;
  return { ...report, skipped: report.skipped.slice(0, max), skippedTotal: report.skippedTotal ?? report.skipped.length };
}

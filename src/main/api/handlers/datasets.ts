/** Handlers of the datasets domain: each calls one use case of services/datasets.ts. */
import * as svc from '../../services/datasets/datasets.js';
import type { DomainHandlers } from '../handlers.js';

type DatasetMethods =
  | 'datasets:list'
  | 'datasets:get'
  | 'datasets:import'
  | 'datasets:delete'
  | 'datasets:export-coco'
  | 'images:list'
  | 'images:locate'
  | 'images:get'
  | 'files:list';

export const datasetHandlers: DomainHandlers<DatasetMethods> = {
  'datasets:list': (_a, ctx) => svc.listDatasets(ctx),
  'datasets:get': (a, ctx) => svc.datasetDetails(ctx, a),
  'datasets:import': (a, ctx) => svc.startImport(ctx, a),
  'datasets:delete': (a, ctx) => svc.deleteDataset(ctx, a),
  'datasets:export-coco': (a, ctx) => svc.exportCoco(ctx, a),
  'images:list': (a, ctx) => svc.listImages(ctx, a),
  'images:locate': (a, ctx) => svc.locateImage(ctx, a),
  'images:get': (a, ctx) => svc.imageDetail(ctx, a),
  'files:list': (a, ctx) => svc.listFiles(ctx, a),
};

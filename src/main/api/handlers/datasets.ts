/** Handlers of `datasets:*`: each maps the contract's arguments to a use case of services/datasets/. */
import * as svc from '../../services/datasets/datasets.js';
import type { DomainHandlers } from '../handler-types.js';

type DatasetMethod = 'datasets:list' | 'datasets:get' | 'datasets:import' | 'datasets:delete' | 'datasets:export-coco' | 'datasets:export';

export const datasetHandlers: DomainHandlers<DatasetMethod> = {
  'datasets:list': (_a, ctx) => svc.listDatasets(ctx),
  'datasets:get': ({ id }, ctx) => svc.datasetDetails(ctx, id),
  'datasets:import': (a, ctx) => svc.startImport(ctx, a),
  'datasets:delete': ({ id }, ctx) => svc.deleteDataset(ctx, id),
  'datasets:export-coco': ({ id, file, overwrite, includePending }, ctx) => svc.exportCoco(ctx, id, { file, overwrite, includePending }),
  'datasets:export': (a, ctx) => svc.exportAs(ctx, a),
};

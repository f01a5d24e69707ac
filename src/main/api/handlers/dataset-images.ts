/** Handler of `datasets:add-images`: the contract's arguments to the use case of services/datasets/add-images.ts. */
import { startAddImages } from '../../services/datasets/add-images.js';
import type { DomainHandlers } from '../handler-types.js';

export const datasetImageHandlers: DomainHandlers<'datasets:add-images'> = {
  'datasets:add-images': (a, ctx) => startAddImages(ctx, a),
};

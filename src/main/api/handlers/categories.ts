/** Handlers of `categories:*`: a category's keypoint schema (services/annotations/annotations.ts). */
import * as svc from '../../services/annotations/annotations.js';
import type { DomainHandlers } from '../handler-types.js';

export const categoryHandlers: DomainHandlers<'categories:set-schema'> = {
  'categories:set-schema': ({ categoryId, keypoints, skeleton, flipPairs }, ctx) => svc.setCategorySchema(ctx, categoryId, { keypoints, skeleton, flipPairs }),
};

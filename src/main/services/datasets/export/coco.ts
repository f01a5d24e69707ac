/**
 * COCO keypoints JSON from the export model (the format engine/datasets/coco.ts reads back):
 * `keypoint_colors` per category (an extra field other tools ignore) so colours survive a round
 * trip, `flip_pairs` (1-based, this workstation's extension) when the category has symmetric
 * pairs, each annotation's bbox (or the tight box around its labelled keypoints), and `suggested`
 * on annotations whose keypoints include pending suggestions.
 */
import type { CocoAnnotation, CocoFile } from '../../../engine/datasets/coco.js';
import { ENGINE_VERSION } from '../../../shared/version.js';
import type { Category } from '../../../store/repositories/datasets.js';
import { boxOf, type ExportAnnotation, type ExportModel } from './model.js';
import type { ExportWriter } from './writer.js';
import { writeFileAtomic } from './writer.js';

function toCocoAnnotation(a: ExportAnnotation, cat: Category, cocoCategoryId: number): CocoAnnotation {
  const flat = new Array<number>(cat.keypoints.length * 3).fill(0);
  for (const k of a.keypoints) {
    if (k.kp >= cat.keypoints.length) continue;
    flat[3 * k.kp] = k.x;
    flat[3 * k.kp + 1] = k.y;
    flat[3 * k.kp + 2] = k.visibility;
  }
  const [x1, y1, x2, y2] = boxOf(a) ?? [0, 0, 0, 0];
  return {
    id: a.id,
    image_id: a.imageId,
    category_id: cocoCategoryId,
    keypoints: flat,
    num_keypoints: a.keypoints.length,
    bbox: [x1, y1, x2 - x1, y2 - y1],
    area: a.area ?? (x2 - x1) * (y2 - y1),
    iscrowd: a.iscrowd,
    ...(a.suggested.length > 0 ? { suggested: a.suggested } : {}),
  };
}

/** The COCO keypoints document of an export model. */
export function cocoDocument(model: ExportModel): CocoFile {
  const { dataset: d, categories, images, annotations } = model;
  const external = categories.map((c) => c.externalId);
  const useExternal = external.every((id) => id !== null && id > 0) && new Set(external).size === external.length;
  const cocoId = new Map(categories.map((c, i) => [c.id, useExternal ? c.externalId! : i + 1]));
  const catById = new Map(categories.map((c) => [c.id, c]));
  return {
    info: {
      description: `${d.name} (${d.format}) exported by SD4Match Workstation`,
      version: ENGINE_VERSION,
      date_created: new Date().toISOString(),
      dataset_root: d.root,
    },
    images: images.map((m) => ({ id: m.id, file_name: m.path, width: m.width, height: m.height })),
    categories: categories.map((c) => ({
      id: cocoId.get(c.id)!,
      name: c.name,
      supercategory: c.supercategory ?? '',
      keypoints: c.keypoints.map((k) => k.name),
      skeleton: c.skeleton.map(([a, b]) => [a + 1, b + 1] as [number, number]),
      keypoint_colors: c.keypoints.map((k) => k.color),
      ...(c.flipPairs.length ? { flip_pairs: c.flipPairs.map(([a, b]) => [a + 1, b + 1] as [number, number]) } : {}),
    })),
    annotations: annotations.map((a) => toCocoAnnotation(a, catById.get(a.categoryId)!, cocoId.get(a.categoryId)!)),
  };
}

export const cocoWriter: ExportWriter = {
  target: 'file',
  extension: '.json',
  write(model, out) {
    writeFileAtomic(out, JSON.stringify(cocoDocument(model)));
  },
};

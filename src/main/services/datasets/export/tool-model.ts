/**
 * The export model (./model.ts) as the Label Studio and CVAT builders take it
 * (engine/datasets/tool-xml.ts), and where each image goes in their export folders: under
 * `images/`, keeping its path, except that a path already under `images/` (an export imported
 * back) stays where it is, so that export, import, export writes the same files.
 */
import type { ToolExportModel } from '../../../engine/datasets/tool-xml.js';
import type { ExportModel } from './model.js';
import { copyImage } from './writer.js';

/** The image's path inside the export folder. */
export function toolImagePath(p: string): string {
  return p.startsWith('images/') ? p : `images/${p}`;
}

/**
 * The neutral model with category names, image paths in the export, and the annotations under
 * their images. Categories without keypoints are left out, with their annotations: neither tool
 * has a keypoint label with no points (Label Studio refuses a KeyPointLabels without labels, CVAT
 * a skeleton without points), and nothing in them could be annotated there.
 */
export function toolModel(model: ExportModel): ToolExportModel {
  const kept = model.categories.filter((c) => c.keypoints.length > 0);
  const catName = new Map(kept.map((c) => [c.id, c.name]));
  const byImage = new Map<number, ExportModel['annotations']>();
  for (const a of model.annotations) if (catName.has(a.categoryId)) byImage.set(a.imageId, [...(byImage.get(a.imageId) ?? []), a]);
  return {
    name: model.dataset.name,
    categories: kept.map((c) => ({ name: c.name, keypoints: c.keypoints, skeleton: c.skeleton, flipPairs: c.flipPairs })),
    images: model.images.map((m) => ({
      path: toolImagePath(m.path),
      width: m.width,
      height: m.height,
      annotations: (byImage.get(m.id) ?? []).map((a) => ({ category: catName.get(a.categoryId)!, instance: a.instance, bbox: a.bbox, keypoints: a.keypoints })),
    })),
  };
}

/** Copies the dataset's images into the export folder, at toolImagePath. */
export function copyToolImages(model: ExportModel, folder: string): void {
  for (const m of model.images) copyImage(model.dataset.root, m.path, folder, toolImagePath(m.path));
}

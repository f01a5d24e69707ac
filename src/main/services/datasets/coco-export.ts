/**
 * COCO export: a dataset's images, categories (keypoint names, skeleton, colours) and image-level
 * annotations from the store as a COCO keypoints document (the format engine/datasets/coco.ts
 * reads back). Sizes and keypoints are written as stored, in the dataset's frame
 * (engine/images/orientation.ts): for folder and COCO datasets the displayed frame, EXIF
 * orientation applied, as browser-based tools read COCO files; for benchmarks the stored pixels.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CocoFile } from '../../engine/datasets/coco.js';
import { ENGINE_VERSION } from '../../shared/version.js';
import type { Db } from '../../store/db.js';
import { DatasetsRepo } from '../../store/repositories/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';

/** The COCO keypoints document for a dataset's images and image-level annotations. */
export function exportCoco(db: Db, datasetId: number): CocoFile {
  const datasets = new DatasetsRepo(db);
  const imagesRepo = new ImagesRepo(db);
  const d = datasets.resolve(datasetId);
  const categories = datasets.categories(d.id);
  const external = categories.map((c) => c.externalId);
  const useExternal = external.every((id) => id !== null && id > 0) && new Set(external).size === external.length;
  const cocoId = new Map(categories.map((c, i) => [c.id, useExternal ? c.externalId! : i + 1]));
  const images = imagesRepo.list(d.id);
  const annotations = imagesRepo.annotationsOfDataset(d.id);
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
    })),
    annotations: annotations.map((a) => {
      const cat = catById.get(a.categoryId)!;
      const flat = new Array<number>(cat.keypoints.length * 3).fill(0);
      for (const k of a.keypoints) {
        if (k.kp >= cat.keypoints.length) continue;
        flat[3 * k.kp] = k.x;
        flat[3 * k.kp + 1] = k.y;
        flat[3 * k.kp + 2] = k.visibility;
      }
      let box = a.bbox;
      if (!box && a.keypoints.length > 0) {
        const xs = a.keypoints.map((k) => k.x);
        const ys = a.keypoints.map((k) => k.y);
        box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
      }
      const [x1, y1, x2, y2] = box ?? [0, 0, 0, 0];
      return {
        id: a.id,
        image_id: a.imageId,
        category_id: cocoId.get(a.categoryId)!,
        keypoints: flat,
        num_keypoints: a.keypoints.length,
        bbox: [x1, y1, x2 - x1, y2 - y1] as [number, number, number, number],
        area: a.area ?? (x2 - x1) * (y2 - y1),
        iscrowd: a.iscrowd,
      };
    }),
  };
}

/** Writes the COCO document for a dataset to `file` (atomically); returns counts. */
export function writeCocoFile(db: Db, datasetId: number, file: string): { file: string; images: number; annotations: number; categories: number; keypoints: number } {
  const doc = exportCoco(db, datasetId);
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc));
  fs.renameSync(tmp, abs);
  return {
    file: abs,
    images: doc.images.length,
    annotations: doc.annotations.length,
    categories: doc.categories.length,
    keypoints: doc.annotations.reduce((n, a) => n + a.num_keypoints, 0),
  };
}

/**
 * YOLO pose (Ultralytics) from the export model: a folder with `data.yaml`, `images/<split>/...`
 * (copies of the dataset's images) and `labels/<split>/<image>.txt`, one line per annotation:
 * `class cx cy w h x1 y1 v1 ... xK yK vK`, coordinates fractions of the image's size, v 2 visible,
 * 1 occluded, 0 absent (with x = y = 0). data.yaml has `names` (class index -> category),
 * `kpt_shape: [K, 3]`, `flip_idx` (from the symmetric pairs, when every class has the same), and
 * `kpt_names` (the keypoint names per class, which newer Ultralytics releases read); this
 * workstation's extensions `kpt_skeleton` (0-based edges per class) and `kpt_flip_idx` (a
 * flip_idx per class, when the classes' pairs differ) make names, skeletons and pairs survive a
 * round trip. See
 * docs/formats.md.
 *
 * Images under `images/<split>/` keep their place (a YOLO dataset exported again is the same);
 * any other image goes under `images/train/` with its path. `path` is left out of data.yaml:
 * Ultralytics then takes the folder data.yaml is in.
 */
import path from 'node:path';
import { flipIndex } from '../../../engine/datasets/flip-pairs.js';
import { AppError } from '../../../shared/errors.js';
import { boxOf, type ExportModel } from './model.js';
import { copyImage, type ExportWriter, writeText } from './writer.js';

type YoloSplit = 'train' | 'val' | 'test';

/** A fraction of the image's size as written (6 decimals: 1/250 px on a 4000 px image). */
function frac(v: number, size: number): string {
  return (v / size).toFixed(6);
}

/** Where an image goes in the export: its split and its path under images/<split>/. */
export function yoloPlace(p: string): { split: YoloSplit; rest: string } {
  const m = /^images\/(train|val|test)\/(.+)$/.exec(p);
  return m ? { split: m[1] as YoloSplit, rest: m[2]! } : { split: 'train', rest: p };
}

/** Why the dataset cannot be written as YOLO pose (null: it can). */
function unfit(model: ExportModel): string | null {
  const cats = model.categories;
  if (cats.length === 0) return `dataset '${model.dataset.name}' has no categories; YOLO pose needs at least one class with keypoints`;
  const k = cats[0]!.keypoints.length;
  const other = cats.find((c) => c.keypoints.length !== k);
  if (other) return `YOLO pose has one kpt_shape for all classes, but category '${cats[0]!.name}' has ${k} keypoints and '${other.name}' ${other.keypoints.length}`;
  if (k === 0) return `category '${cats[0]!.name}' has no keypoints; YOLO pose needs kpt_shape [K, 3] with K >= 1`;
  return null;
}

export const yoloWriter: ExportWriter = {
  target: 'folder',
  marker: 'data.yaml',
  write(model, out) {
    const problem = unfit(model);
    if (problem) throw new AppError('INVALID_ARGUMENT', problem);
    const cats = model.categories;
    const k = cats[0]!.keypoints.length;
    const classOf = new Map(cats.map((c, i) => [c.id, i]));
    const byImage = new Map<number, string[]>();
    const imageById = new Map(model.images.map((m) => [m.id, m]));
    for (const a of model.annotations) {
      const img = imageById.get(a.imageId);
      if (!img) continue;
      const box = boxOf(a);
      if (!box) continue; // an annotation with no box and no keypoint says nothing YOLO can hold
      const [x1, y1, x2, y2] = box;
      const w = img.width;
      const h = img.height;
      const values = [frac((x1 + x2) / 2, w), frac((y1 + y2) / 2, h), frac(x2 - x1, w), frac(y2 - y1, h)];
      const kps = new Map(a.keypoints.map((p) => [p.kp, p]));
      for (let j = 0; j < k; j++) {
        const p = kps.get(j);
        values.push(...(p ? [frac(p.x, w), frac(p.y, h), String(p.visibility)] : ['0', '0', '0']));
      }
      const lines = byImage.get(a.imageId) ?? [];
      lines.push(`${classOf.get(a.categoryId)!} ${values.join(' ')}`);
      byImage.set(a.imageId, lines);
    }
    const splits = new Set<string>();
    const labelOf = new Map<string, string>();
    for (const img of model.images) {
      const { split, rest } = yoloPlace(img.path);
      splits.add(split);
      const label = `labels/${split}/${rest.slice(0, rest.length - path.posix.extname(rest).length)}.txt`;
      const clash = labelOf.get(label);
      // a.jpg and a.png would share labels/.../a.txt: YOLO cannot tell their labels apart
      if (clash !== undefined) throw new AppError('INVALID_ARGUMENT', `images ${clash} and ${img.path} would share the YOLO label file ${label} (same name, different extension); rename one`);
      labelOf.set(label, img.path);
      copyImage(model.dataset.root, img.path, out, `images/${split}/${rest}`);
      const lines = byImage.get(img.id);
      if (lines) writeText(out, label, `${lines.join('\n')}\n`);
    }
    const pairsOf = cats.map((c) => JSON.stringify(c.flipPairs));
    // written by hand: flow lists as the Ultralytics examples have them; strings JSON-quoted (valid YAML)
    const q = (v: unknown) => JSON.stringify(v).replace(/,/g, ', ');
    const yaml = [
      '# YOLO pose dataset written by SD4Match Workstation (see its docs/formats.md).',
      '# kpt_names: keypoint names per class; kpt_skeleton: 0-based edges per class (an extension other tools ignore).',
      `train: images/${splits.has('train') || splits.size === 0 ? 'train' : [...splits][0]}`,
      // Ultralytics needs a val set; without one, validation runs on the training images
      `val: ${splits.has('val') ? 'images/val' : 'images/train'}`,
      ...(splits.has('test') ? ['test: images/test'] : []),
      'names:',
      ...cats.map((c, i) => `  ${i}: ${JSON.stringify(c.name)}`),
      `kpt_shape: [${k}, 3]`,
      // flip_idx is one list for all classes: when the classes differ, kpt_flip_idx has one per class
      ...(pairsOf.every((p) => p === pairsOf[0])
        ? cats[0]!.flipPairs.length > 0
          ? [`flip_idx: ${q(flipIndex(cats[0]!.flipPairs, k))}`]
          : []
        : ['kpt_flip_idx:', ...cats.map((c, i) => `  ${i}: ${q(flipIndex(c.flipPairs, k))}`)]),
      'kpt_names:',
      ...cats.map((c, i) => `  ${i}: [${c.keypoints.map((p) => JSON.stringify(p.name)).join(', ')}]`),
      'kpt_skeleton:',
      ...cats.map((c, i) => `  ${i}: ${q(c.skeleton)}`),
    ];
    writeText(out, 'data.yaml', `${yaml.join('\n')}\n`);
  },
};

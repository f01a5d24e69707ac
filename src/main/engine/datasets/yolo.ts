/**
 * YOLO pose (Ultralytics) datasets: `data.yaml` and a label file per image.
 *
 * data.yaml: `path` (the dataset folder; default the folder data.yaml is in; relative: to that
 * folder), `train` / `val` / `test` (each a folder of images, a .txt list of image paths, or a list
 * of either, relative to `path`; a `../x` that does not exist is read as `x`, as Ultralytics does for
 * Roboflow's exports), `names` (class index -> name, a mapping or a list), `kpt_shape`
 * [K, 2 or 3], `flip_idx` (optional: for each keypoint its mirror's index), `kpt_names` (optional:
 * the keypoint names per class, as newer Ultralytics releases read them; default kp_0..kp_K-1) and
 * `kpt_skeleton` and `kpt_flip_idx` (optional, this workstation's extensions: 0-based edges per
 * class, a flip_idx per class).
 *
 * Labels: for `.../images/<...>/x.jpg`, `.../labels/<...>/x.txt` (Ultralytics' rule: the last
 * `/images/` becomes `/labels/`); one line per object, `class cx cy w h` then K keypoints of 2 or 3
 * numbers, all fractions of the image's size (0..1). Visibility v: 0 absent, 1 occluded, 2 visible;
 * with 2 numbers per keypoint, (0, 0) is absent and anything else visible. An image without a
 * label file has no objects. Classes become categories (in index order), objects annotations.
 *
 * The dataset is stored as a 'coco' dataset keyed by data.yaml (see domain.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDir, isFile } from './fs-util.js';
import { flipPairsProblem, pairsFromFlipIndex } from './flip-pairs.js';
import { isInside } from '../images/safe-path.js';
import { IMAGE_EXTENSIONS } from '../images/probe.js';
import { asRecord, fileLabel, findToolFile, keypointNamesProblem, listImages, readYaml } from './tool-files.js';
import { imageFor, keypointDefs, type ParsedCategory, type ParsedDataset, type ParsedKeypoint, type Reader } from './types.js';

/** How far outside 0..1 a fraction may be and still count as on the edge (rounding in other tools). */
const EDGE = 1e-6;

/** Ultralytics' label path for an image path (absolute). */
export function yoloLabelPath(image: string): string {
  const sa = `${path.sep}images${path.sep}`;
  const sb = `${path.sep}labels${path.sep}`;
  const i = image.lastIndexOf(sa);
  const swapped = i < 0 ? image : image.slice(0, i) + sb + image.slice(i + sa.length);
  return `${swapped.slice(0, swapped.length - path.extname(swapped).length)}.txt`;
}

/** A per-class value of data.yaml (a mapping by class index, or a list): the class's entry. */
function perClass(v: unknown, cls: number): unknown {
  if (Array.isArray(v)) return v[cls];
  const r = asRecord(v);
  return r ? (r[String(cls)] ?? r[cls]) : undefined;
}

export const readYolo: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  const source = findToolFile(root, options.annotations, ['data.yaml', 'data.yml', 'dataset.yaml']);
  if (!source) {
    const yamls = fs.readdirSync(root).filter((f) => /\.ya?ml$/i.test(f) && !f.startsWith('.'));
    if (yamls.length !== 1) {
      throw problems.fatal(
        { file: root },
        `no YOLO data.yaml in the folder${yamls.length > 1 ? ` (it holds ${yamls.join(', ')})` : ''}; ${ctx.wording.nameAnnotations.replace('COCO file', 'data.yaml')}`,
        'NOT_FOUND',
      );
    }
  }
  const yamlPath =
    source ??
    path.join(
      root,
      fs.readdirSync(root).find((f) => /\.ya?ml$/i.test(f) && !f.startsWith('.'))!,
    );
  const file = fileLabel(root, yamlPath);
  const doc = asRecord(readYaml(yamlPath, file));
  if (!doc) throw problems.fatal({ file }, 'the top level is not a mapping (is this a YOLO data.yaml?)');

  // kpt_shape: [K, 2 | 3]
  const shape = doc.kpt_shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !Number.isInteger(shape[0]) || (shape[0] as number) < 1 || (shape[1] !== 2 && shape[1] !== 3)) {
    throw problems.fatal({ file, entry: 'kpt_shape' }, `must be [number of keypoints, 2 or 3], got ${JSON.stringify(shape ?? null)} (is this a YOLO pose data.yaml?)`);
  }
  const k = shape[0] as number;
  const dims = shape[1] as 2 | 3;

  // names: {0: person} or [person]
  const rawNames = doc.names;
  const classNames: string[] = [];
  if (Array.isArray(rawNames)) rawNames.forEach((n) => classNames.push(String(n)));
  else if (asRecord(rawNames)) {
    const entries = Object.entries(asRecord(rawNames)!);
    for (const [key, value] of entries) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length) throw problems.fatal({ file, entry: `names` }, `class index ${JSON.stringify(key)} must be one of 0..${entries.length - 1}`);
      classNames[i] = String(value);
    }
  } else throw problems.fatal({ file, entry: 'names' }, 'must map class indices to names (names: {0: person}) or list the names');
  if (classNames.length === 0) throw problems.fatal({ file, entry: 'names' }, 'lists no class');
  if (doc.nc !== undefined && doc.nc !== classNames.length) throw problems.fatal({ file, entry: 'nc' }, `says ${JSON.stringify(doc.nc)} classes but 'names' has ${classNames.length}`);
  const dupName = classNames.find((n, i) => classNames.indexOf(n) !== i);
  if (dupName !== undefined) throw problems.fatal({ file, entry: 'names' }, `class name '${dupName}' appears twice`);

  // flip_idx: one list for every class
  let flipPairs: [number, number][] = [];
  if (doc.flip_idx !== undefined && doc.flip_idx !== null) {
    const idx = doc.flip_idx;
    if (!Array.isArray(idx) || idx.length !== k)
      throw problems.fatal({ file, entry: 'flip_idx' }, `must list ${k} keypoint indices (kpt_shape says ${k} keypoints), got ${Array.isArray(idx) ? idx.length : JSON.stringify(idx)}`);
    const r = pairsFromFlipIndex(idx as number[]);
    if ('problem' in r) throw problems.fatal({ file, entry: 'flip_idx' }, r.problem);
    flipPairs = r.pairs;
  }

  const categories: ParsedCategory[] = classNames.map((name, cls) => {
    const entry = `kpt_names[${cls}]`;
    const given = doc.kpt_names === undefined || doc.kpt_names === null ? undefined : perClass(doc.kpt_names, cls);
    let names: string[];
    if (given === undefined) names = Array.from({ length: k }, (_, j) => `kp_${j}`);
    else if (!Array.isArray(given) || given.length !== k || !given.every((n) => typeof n === 'string' || typeof n === 'number')) {
      throw problems.fatal({ file, entry }, `must list the ${k} keypoint names of class '${name}' (kpt_shape says ${k})`);
    } else names = given.map(String);
    const bad = keypointNamesProblem(names, name);
    if (bad) throw problems.fatal({ file, entry }, bad);
    const edges = doc.kpt_skeleton === undefined || doc.kpt_skeleton === null ? undefined : perClass(doc.kpt_skeleton, cls);
    const skeleton: [number, number][] = [];
    if (edges !== undefined && edges !== null) {
      if (!Array.isArray(edges)) throw problems.fatal({ file, entry: `kpt_skeleton[${cls}]` }, 'must be a list of [a, b] keypoint index pairs (0-based)');
      for (const e of edges as unknown[]) {
        if (!Array.isArray(e) || e.length !== 2 || !e.every((j) => Number.isInteger(j) && j >= 0 && j < k)) {
          throw problems.fatal({ file, entry: `kpt_skeleton[${cls}]` }, `edge ${JSON.stringify(e)} must join two of the ${k} keypoints (0-based)`);
        }
        skeleton.push([e[0] as number, e[1] as number]);
      }
    }
    // kpt_flip_idx (this workstation's extension): a flip_idx per class, over the shared one
    let pairs = flipPairs;
    const own = doc.kpt_flip_idx === undefined || doc.kpt_flip_idx === null ? undefined : perClass(doc.kpt_flip_idx, cls);
    if (own !== undefined && own !== null) {
      if (!Array.isArray(own) || own.length !== k) throw problems.fatal({ file, entry: `kpt_flip_idx[${cls}]` }, `must list ${k} keypoint indices (kpt_shape says ${k} keypoints)`);
      const r = pairsFromFlipIndex(own as number[]);
      if ('problem' in r) throw problems.fatal({ file, entry: `kpt_flip_idx[${cls}]` }, r.problem);
      pairs = r.pairs;
    }
    const pairProblem = flipPairsProblem(pairs, k, names);
    if (pairProblem) throw problems.fatal({ file, entry: 'flip_idx' }, pairProblem);
    return { name, ordinal: cls, externalId: cls, keypoints: keypointDefs(names), skeleton, flipPairs: pairs };
  });

  // The folder image paths are relative to
  const yamlDir = path.dirname(yamlPath);
  let base = yamlDir;
  if (typeof doc.path === 'string' && doc.path.trim()) {
    const p = path.isAbsolute(doc.path) ? doc.path : path.resolve(yamlDir, doc.path);
    if (isDir(p)) base = fs.realpathSync(p);
  }
  if (!isInside(root, base)) throw problems.fatal({ file, entry: 'path' }, `the images are under ${base}, outside the dataset folder ${root}; ${ctx.wording.useRoot(base, null)}`);

  // train / val / test: folders, .txt lists, or lists of either
  const imageFiles: string[] = []; // absolute
  const seen = new Set<string>();
  const add = (abs: string) => {
    if (!seen.has(abs)) {
      seen.add(abs);
      imageFiles.push(abs);
    }
  };
  for (const split of ['train', 'val', 'test']) {
    const v = doc[split];
    if (v === undefined || v === null || v === '') continue;
    const list = Array.isArray(v) ? v : [v];
    for (const item of list) {
      if (typeof item !== 'string') throw problems.fatal({ file, entry: split }, `must be a folder of images, a .txt list of images, or a list of them; got ${JSON.stringify(item)}`);
      let abs = path.resolve(base, item);
      // Ultralytics' rule for Roboflow's exports (train: ../train/images next to data.yaml): a
      // '../' path that does not exist is read without its '../'
      if (!fs.existsSync(abs) && item.startsWith('../')) abs = path.resolve(base, item.slice(3));
      if (isDir(abs)) {
        for (const rel of listImages(abs)) add(path.join(abs, ...rel.split('/')));
      } else if (isFile(abs) && abs.toLowerCase().endsWith('.txt')) {
        const lines = fs.readFileSync(abs, 'utf8').split(/\r?\n/);
        const listDir = path.dirname(abs);
        lines.forEach((line, i) => {
          const t = line.trim();
          if (!t) return;
          // Ultralytics: './x' is relative to the list's folder; other relative paths to `path`
          const img = t.startsWith('./') ? path.resolve(listDir, t) : path.resolve(base, t);
          if (!IMAGE_EXTENSIONS.has(path.extname(img).toLowerCase())) problems.invalid({ file: fileLabel(root, abs), entry: `line ${i + 1}` }, `'${t}' is not an image file name`);
          else add(img);
        });
      } else if (split === 'test' && !fs.existsSync(abs)) {
        // Ultralytics looks for the test split only when asked to evaluate on it (Roboflow lists one always)
        problems.skip({ file, entry: split }, `'${item}' does not exist (looked for ${abs}); the test split is left out`);
      } else {
        throw problems.fatal({ file, entry: split }, `'${item}' is neither a folder nor a .txt list of images (looked for ${abs})`, 'NOT_FOUND');
      }
    }
  }
  if (imageFiles.length === 0) throw problems.fatal({ file }, "names no images ('train', 'val' and 'test' are empty or missing)");
  ctx.progress('scanning', 1, 1);

  const images: ParsedDataset['images'] = new Map();
  let done = 0;
  for (const abs of imageFiles) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, imageFiles.length);
    if (!isInside(root, abs)) {
      problems.invalid({ file }, `image ${abs} lies outside the dataset folder ${root}`);
      continue;
    }
    const rel = path.relative(root, abs).split(path.sep).join('/');
    const img = imageFor(images, rel, null, { file: rel });
    const labelAbs = yoloLabelPath(abs);
    if (!isFile(labelAbs)) continue;
    const labelFile = fileLabel(root, labelAbs);
    const instances = new Map<number, number>();
    const lines = fs.readFileSync(labelAbs, 'utf8').split(/\r?\n/);
    for (let li = 0; li < lines.length; li++) {
      const text = lines[li]!.trim();
      if (!text) continue;
      const at = { file: labelFile, entry: `line ${li + 1}` };
      const parts = text.split(/\s+/);
      const want = 5 + k * dims;
      if (parts.length !== want) {
        problems.invalid(at, `has ${parts.length} numbers; kpt_shape [${k}, ${dims}] needs ${want} (class, cx, cy, w, h, then ${k} keypoints of ${dims})`);
        continue;
      }
      const nums = parts.map(Number);
      const badAt = nums.findIndex((x) => !Number.isFinite(x));
      if (badAt >= 0) {
        problems.invalid(at, `value ${badAt + 1} '${parts[badAt]}' is not a number`);
        continue;
      }
      const cls = nums[0]!;
      if (!Number.isInteger(cls) || cls < 0 || cls >= categories.length) {
        problems.invalid(at, `class ${parts[0]} is not in 'names' of ${file} (0..${categories.length - 1})`);
        continue;
      }
      const cat = categories[cls]!;
      const [cx, cy, w, h] = nums.slice(1, 5) as [number, number, number, number];
      const inRange = (v: number) => v >= -EDGE && v <= 1 + EDGE;
      if (w < 0 || h < 0 || !inRange(cx - w / 2) || !inRange(cy - h / 2) || !inRange(cx + w / 2) || !inRange(cy + h / 2)) {
        problems.invalid(at, `the box (cx ${parts[1]}, cy ${parts[2]}, w ${parts[3]}, h ${parts[4]}) lies outside the image (YOLO coordinates are fractions 0..1 of its size)`);
        continue;
      }
      const keypoints: ParsedKeypoint[] = [];
      let bad: string | null = null;
      for (let j = 0; j < k && !bad; j++) {
        const x = nums[5 + j * dims]!;
        const y = nums[6 + j * dims]!;
        const v = dims === 3 ? nums[7 + j * dims]! : x === 0 && y === 0 ? 0 : 2;
        if (v !== 0 && v !== 1 && v !== 2) bad = `keypoint '${cat.keypoints[j]!.name}' has visibility ${parts[7 + j * dims]}; YOLO allows 0 (absent), 1 (occluded), 2 (visible)`;
        else if (v > 0 && (!inRange(x) || !inRange(y)))
          bad = `keypoint '${cat.keypoints[j]!.name}' (${parts[5 + j * dims]}, ${parts[6 + j * dims]}) lies outside the image (YOLO coordinates are fractions 0..1 of its size)`;
        else if (v > 0) keypoints.push({ kp: j, x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)), visibility: v as 1 | 2 });
      }
      if (bad) {
        problems.invalid(at, bad);
        continue;
      }
      const instance = instances.get(cls) ?? 0;
      instances.set(cls, instance + 1);
      const clamp = (v: number) => Math.min(1, Math.max(0, v));
      img.annotations.push({
        category: cat.name,
        instance,
        bbox: [clamp(cx - w / 2), clamp(cy - h / 2), clamp(cx + w / 2), clamp(cy + h / 2)],
        keypoints,
        origin: at,
      });
    }
    const cats = new Set(img.annotations.map((a) => a.category));
    img.category = cats.size === 1 ? [...cats][0]! : null;
  }

  return {
    format: 'coco',
    defaultName: /^(data|dataset)$/i.test(path.basename(yamlPath, path.extname(yamlPath))) ? path.basename(root) : path.basename(yamlPath, path.extname(yamlPath)),
    source: yamlPath,
    categories,
    images,
    pairs: [],
    userAnnotations: false,
    deriveImageAnnotations: false,
    relativeTo: 1,
  };
};

/**
 * COCO keypoints JSON, both ways.
 *
 * Import: `images` [{id, file_name, width, height}], `annotations` [{id, image_id, category_id,
 * keypoints [x, y, v] * K, bbox [x, y, w, h], area, iscrowd}], `categories` [{id, name,
 * supercategory, keypoints [names], skeleton [[a, b]] 1-based}]. `file_name` is relative to the
 * dataset root. Visibility 0 (not labelled) is not stored; 1 and 2 are.
 *
 * Export writes the same, with `keypoint_colors` (an extra per-category field other tools ignore)
 * so colours survive a round trip, and each annotation's bbox (or, when it has none, the tight box
 * around its labelled keypoints); asked to include pending suggestions, an annotation lists the
 * keypoints that are suggestions in `suggested` (an extra field import ignores).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { MAX_KEYPOINT_NAME_LENGTH, MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { type Box, defaultKeypointColor } from './domain.js';
import { flipPairsProblem } from './flip-pairs.js';
import { normalizeDatasetPath, relativePathProblem } from '../images/safe-path.js';
import { isDir, isFile, parseJsonBytes } from './fs-util.js';
import { declareSize, type ImportWording, imageFor, isFiniteNumber, type ParsedCategory, type ParsedDataset, type Reader } from './types.js';

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
  keypoints: string[];
  skeleton: [number, number][];
  keypoint_colors?: string[];
  /** Symmetric pairs, 1-based (this workstation's extension; absent when none). */
  flip_pairs?: [number, number][];
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  keypoints: number[];
  num_keypoints: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
  /** Export with pending suggestions only: the keypoint indices (0-based) that are suggestions, not labels. */
  suggested?: number[];
}

export interface CocoFile {
  info: Record<string, unknown>;
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/** Picks the annotation file: the option, else root/annotations.json, else the only .json in root or root/annotations/. */
function findAnnotationFile(root: string, option: string | undefined, wording: ImportWording): string {
  if (option) {
    const abs = path.resolve(option);
    if (!isFile(abs)) throw new AppError('NOT_FOUND', `annotation file ${abs} does not exist`);
    return fs.realpathSync(abs);
  }
  if (isFile(path.join(root, 'annotations.json'))) return path.join(root, 'annotations.json');
  for (const dir of [root, path.join(root, 'annotations')]) {
    if (!isDir(dir)) continue;
    const jsons = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.json') && !f.startsWith('.'));
    if (jsons.length === 1) return path.join(dir, jsons[0]!);
    if (jsons.length > 1) {
      throw new AppError('INVALID_ARGUMENT', `${dir} holds ${jsons.length} JSON files (${jsons.slice(0, 5).join(', ')}${jsons.length > 5 ? ', ...' : ''}); ${wording.nameAnnotations}`);
    }
  }
  throw new AppError('NOT_FOUND', `no COCO annotation file in ${root} (looked for annotations.json and a single .json in the root or annotations/); ${wording.nameAnnotations}`);
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * Why an integer is not usable as an id: JSON numbers are read as doubles, so integers beyond
 * 2^53 - 1 have already been rounded (two ids may have become one) and are refused, naming the
 * entry, rather than reported as duplicates. (Reading them exactly would need the number's source
 * text, which Node 20's JSON.parse does not give, and BigInt ids through the store and the export.)
 */
function unsafeIdProblem(v: unknown, what: string): string | null {
  if (typeof v !== 'number' || !Number.isInteger(v) || Number.isSafeInteger(v)) return null;
  const bound = v > 0 ? `larger than ${Number.MAX_SAFE_INTEGER}` : `smaller than -${Number.MAX_SAFE_INTEGER}`;
  return `${what} ${BigInt(v)} is ${bound} (2^53 - 1), beyond what a JSON number carries exactly (neighbouring ids become equal); renumber the ids`;
}

export const readCoco: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  const source = findAnnotationFile(root, options.annotations, ctx.wording);
  const rel = path.relative(root, source);
  const file = rel.startsWith('..') || path.isAbsolute(rel) ? source : rel.split(path.sep).join('/');
  // Says what a file that is not JSON seems to be, never echoing its content.
  const read = parseJsonBytes(fs.readFileSync(source));
  if ('problem' in read) throw problems.fatal({ file }, read.problem);
  const parsed = read.value;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw problems.fatal({ file }, 'the top level is not an object (is this a COCO keypoints file?)');
  const doc = parsed as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(doc[key])) throw problems.fatal({ file }, `'${key}' must be a list (is this a COCO keypoints file?)`);
  }
  const rawImages = doc.images as unknown[];
  const rawAnns = doc.annotations as unknown[];
  const rawCats = doc.categories as unknown[];
  ctx.progress('scanning', 1, 1);
  const total = rawImages.length + rawAnns.length + rawCats.length;
  let done = 0;

  const cats = new Map<number, ParsedCategory>();
  const catNames = new Set<string>();
  /** Categories left out, by id: their annotations say so instead of 'unknown category'. */
  const refusedCats = new Map<number, string>();
  for (let i = 0; i < rawCats.length; i++) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, total);
    const c = rawCats[i] as Record<string, unknown>;
    const at = { file, entry: `categories[${i}]` };
    const unsafe = c && typeof c === 'object' ? unsafeIdProblem(c.id, 'id') : null;
    if (unsafe) {
      problems.invalid(at, unsafe);
      continue;
    }
    if (!c || typeof c !== 'object' || !isId(c.id) || typeof c.name !== 'string' || !c.name) {
      problems.invalid(at, 'a category needs an integer id and a name');
      continue;
    }
    if (cats.has(c.id) || catNames.has(c.name)) {
      problems.invalid(at, `category id ${c.id} / name '${c.name}' appears twice`);
      continue;
    }
    const names = c.keypoints ?? [];
    const refuse = (reason: string) => {
      problems.invalid(at, reason);
      refusedCats.set(c.id as number, at.entry);
    };
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      refuse("'keypoints' must be a list of keypoint names");
      continue;
    }
    // The schema editor's limits, checked before anything is built from the list.
    if (names.length > MAX_KEYPOINTS_PER_CATEGORY) {
      refuse(`category '${c.name}' has ${names.length} keypoints; at most ${MAX_KEYPOINTS_PER_CATEGORY} are allowed per category`);
      continue;
    }
    const long = names.findIndex((n) => n.length > MAX_KEYPOINT_NAME_LENGTH);
    if (long >= 0) {
      refuse(`keypoint ${long + 1} of category '${c.name}' has a name of ${names[long]!.length} characters; at most ${MAX_KEYPOINT_NAME_LENGTH} are allowed`);
      continue;
    }
    const skeleton = c.skeleton ?? [];
    const edges: [number, number][] = [];
    let bad: string | null = null;
    if (!Array.isArray(skeleton)) bad = "'skeleton' must be a list of [a, b] pairs";
    else {
      for (const e of skeleton as unknown[]) {
        if (!Array.isArray(e) || e.length !== 2 || !e.every((k) => isId(k) && k >= 1 && k <= names.length)) {
          bad = `skeleton edge ${JSON.stringify(e)} must join two of the ${names.length} keypoints (1-based)`;
          break;
        }
        edges.push([(e[0] as number) - 1, (e[1] as number) - 1]);
      }
    }
    // `flip_pairs` (1-based, like the skeleton) is this workstation's extension: COCO has no symmetric pairs
    const flipPairs: [number, number][] = [];
    if (!bad && c.flip_pairs !== undefined) {
      if (!Array.isArray(c.flip_pairs) || !(c.flip_pairs as unknown[]).every((e) => Array.isArray(e) && e.length === 2 && e.every((k) => isId(k) && k >= 1 && k <= names.length))) {
        bad = `'flip_pairs' must be a list of [a, b] pairs of the ${names.length} keypoints (1-based)`;
      } else {
        for (const e of c.flip_pairs as [number, number][]) flipPairs.push([e[0] - 1, e[1] - 1]);
        bad = flipPairsProblem(flipPairs, names.length, names as string[]);
      }
    }
    if (bad) {
      refuse(bad);
      continue;
    }
    const colors = Array.isArray(c.keypoint_colors) ? (c.keypoint_colors as unknown[]) : [];
    cats.set(c.id, {
      name: c.name,
      ordinal: cats.size,
      externalId: c.id,
      supercategory: typeof c.supercategory === 'string' ? c.supercategory : null,
      keypoints: (names as string[]).map((name, k) => ({ name, color: typeof colors[k] === 'string' ? (colors[k] as string) : defaultKeypointColor(k) })),
      skeleton: edges,
      flipPairs,
    });
    catNames.add(c.name);
  }

  const images: ParsedDataset['images'] = new Map();
  const byId = new Map<number, string>();
  for (let i = 0; i < rawImages.length; i++) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, total);
    const m = rawImages[i] as Record<string, unknown>;
    const at = { file, entry: `images[${i}]` };
    const unsafe = m && typeof m === 'object' ? unsafeIdProblem(m.id, 'id') : null;
    if (unsafe) {
      problems.invalid(at, unsafe);
      continue;
    }
    if (!m || typeof m !== 'object' || !isId(m.id) || typeof m.file_name !== 'string') {
      problems.invalid(at, 'an image needs an integer id and a file_name');
      continue;
    }
    const p = normalizeDatasetPath(m.file_name);
    const problem = relativePathProblem(p);
    if (problem) {
      problems.invalid({ file, entry: `image id ${m.id}` }, `file_name '${m.file_name}' is refused: ${problem}`);
      continue;
    }
    if (byId.has(m.id) || images.has(p)) {
      problems.invalid({ file, entry: `image id ${m.id}` }, `image id ${m.id} or file_name '${p}' appears twice`);
      continue;
    }
    const img = imageFor(images, p, null, { file, entry: `image id ${m.id}` });
    img.externalId = m.id;
    if (m.width !== undefined || m.height !== undefined) {
      if (!isId(m.width) || !isId(m.height) || m.width <= 0 || m.height <= 0) {
        problems.invalid({ file, entry: `image id ${m.id}` }, 'width and height must be positive integers');
        images.delete(p);
        continue;
      }
      declareSize(img, { width: m.width, height: m.height }, { file, entry: `image id ${m.id}` });
    }
    byId.set(m.id, p);
  }

  const instances = new Map<string, number>();
  const annIds = new Set<number>();
  for (let i = 0; i < rawAnns.length; i++) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, total);
    const a = rawAnns[i] as Record<string, unknown>;
    const unsafe = a && typeof a === 'object' ? unsafeIdProblem(a.id, 'id') : null;
    if (unsafe) {
      problems.invalid({ file, entry: `annotations[${i}]` }, unsafe);
      continue;
    }
    if (!a || typeof a !== 'object' || !isId(a.id)) {
      problems.invalid({ file, entry: `annotations[${i}]` }, 'an annotation needs an integer id');
      continue;
    }
    const at = { file, entry: `annotation id ${a.id}` };
    if (annIds.has(a.id)) {
      problems.invalid(at, `annotation id ${a.id} appears twice`);
      continue;
    }
    annIds.add(a.id);
    const refUnsafe = unsafeIdProblem(a.image_id, 'image_id') ?? unsafeIdProblem(a.category_id, 'category_id');
    if (refUnsafe) {
      problems.invalid(at, refUnsafe);
      continue;
    }
    const imgPath = isId(a.image_id) ? byId.get(a.image_id) : undefined;
    if (imgPath === undefined) {
      problems.invalid(at, `image_id ${JSON.stringify(a.image_id)} is not in 'images'`);
      continue;
    }
    const cat = isId(a.category_id) ? cats.get(a.category_id) : undefined;
    if (!cat) {
      const refused = isId(a.category_id) ? refusedCats.get(a.category_id) : undefined;
      problems.invalid(at, refused ? `category_id ${a.category_id} is the category refused at ${refused}` : `unknown category: category_id ${JSON.stringify(a.category_id)} is not in 'categories'`);
      continue;
    }
    const kv = a.keypoints ?? [];
    const k = cat.keypoints.length;
    if (!Array.isArray(kv) || !kv.every(isFiniteNumber) || (kv.length !== 3 * k && kv.length !== 0)) {
      problems.invalid(at, `'keypoints' must hold ${k} [x, y, v] triplets for category '${cat.name}'${Array.isArray(kv) ? `, got ${kv.length} numbers` : ''}`);
      continue;
    }
    const kps: { kp: number; x: number; y: number; visibility: 1 | 2 }[] = [];
    let bad: string | null = null;
    for (let j = 0; j < kv.length / 3; j++) {
      const [x, y, v] = [kv[3 * j] as number, kv[3 * j + 1] as number, kv[3 * j + 2] as number];
      if (v !== 0 && v !== 1 && v !== 2) {
        bad = `keypoint ${j} ('${cat.keypoints[j]!.name}') has visibility ${v}; COCO allows 0, 1, 2`;
        break;
      }
      if (v > 0) kps.push({ kp: j, x, y, visibility: v as 1 | 2 });
    }
    if (bad) {
      problems.invalid(at, bad);
      continue;
    }
    let bbox: Box | null = null;
    if (a.bbox !== undefined && a.bbox !== null) {
      const b = a.bbox;
      if (!Array.isArray(b) || b.length !== 4 || !b.every(isFiniteNumber) || (b[2] as number) < 0 || (b[3] as number) < 0) {
        problems.invalid(at, `'bbox' must be [x, y, width, height] with width, height >= 0, got ${JSON.stringify(b)}`);
        continue;
      }
      const [x, y, w, h] = b as number[];
      bbox = [x!, y!, x! + w!, y! + h!];
    }
    if (a.area !== undefined && a.area !== null && !isFiniteNumber(a.area)) {
      problems.invalid(at, "'area' must be a number");
      continue;
    }
    const key = `${imgPath}\n${cat.name}`;
    const instance = instances.get(key) ?? 0;
    instances.set(key, instance + 1);
    images.get(imgPath)!.annotations.push({
      category: cat.name,
      instance,
      bbox,
      area: (a.area as number | undefined) ?? null,
      iscrowd: a.iscrowd === 1 || a.iscrowd === true ? 1 : 0,
      externalId: a.id,
      keypoints: kps,
      origin: at,
    });
  }
  // An image files under a category when all its annotations agree on one.
  for (const img of images.values()) {
    const names = new Set(img.annotations.map((a) => a.category));
    img.category = names.size === 1 ? [...names][0]! : null;
  }

  return {
    format: 'coco',
    // 'annotations.json' says nothing; the folder's name does.
    defaultName: /^annotations?$/i.test(path.basename(source, path.extname(source))) ? path.basename(root) : path.basename(source, path.extname(source)),
    source,
    categories: [...cats.values()],
    images,
    pairs: [],
    userAnnotations: false,
    deriveImageAnnotations: false,
  };
};

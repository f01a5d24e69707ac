/**
 * Builds small (or, for the crash test and the benchmark, large) datasets in the real on-disk
 * formats: JPEG/PNG images made with sharp, SPair JSON + layouts, PF-Pascal CSVs + MATLAB v5
 * .mat annotations (double and uint16 classes, NaN rows, zlib-compressed elements), PF-Willow
 * CSV, image folders, COCO keypoints JSON. Each generator returns what it wrote, so tests compare
 * the database against the ground truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { columnMajor, writeMat } from './mat5-writer.js';
import { Rng } from './random.js';

export type Box = [number, number, number, number];
export type Pt = [number, number];

export interface GenImage {
  rel: string;
  width: number;
  height: number;
  format: 'jpeg' | 'png';
}

export interface ExpectedPair {
  split: 'trn' | 'val' | 'test';
  name: string;
  category: string;
  src: string;
  trg: string;
  srcKps: Pt[];
  trgKps: Pt[];
  srcBbox: Box | null;
  trgBbox: Box | null;
  kpIds: number[] | null;
  flip: 0 | 1;
  flags: { viewpointVariation: number | null; scaleVariation: number | null; truncation: number | null; occlusion: number | null; mirror: number | null };
}

export interface ExpectedAnnotation {
  image: string;
  category: string;
  bbox: Box | null;
  /** kp -> [x, y, v] */
  keypoints: Map<number, [number, number, 1 | 2]>;
}

export interface Generated {
  root: string;
  images: Map<string, GenImage>;
  categories: string[];
  pairs: ExpectedPair[];
  annotations: ExpectedAnnotation[];
}

// ------------------------------------------------------------------------------------------------
// Images
// ------------------------------------------------------------------------------------------------

const imageCache = new Map<string, Promise<Buffer>>();

/** A small real image: a coloured background with a rectangle (cached per size/format/colour). */
export function imageBytes(width: number, height: number, format: 'jpeg' | 'png', colour = 0): Promise<Buffer> {
  const key = `${width}x${height}.${format}.${colour % 8}`;
  let p = imageCache.get(key);
  if (!p) {
    const c = colour % 8;
    const bg = { r: 40 + 25 * c, g: 200 - 20 * c, b: 90 + 15 * c };
    const w = Math.max(1, Math.floor(width / 3));
    const h = Math.max(1, Math.floor(height / 3));
    const rect = sharp({ create: { width: w, height: h, channels: 3, background: { r: 250, g: 240 - 10 * c, b: 30 } } })
      .png()
      .toBuffer();
    p = rect.then((r) => {
      const img = sharp({ create: { width, height, channels: 3, background: bg } }).composite([{ input: r, left: Math.floor(width / 4), top: Math.floor(height / 4) }]);
      return format === 'jpeg' ? img.jpeg({ quality: 85 }).toBuffer() : img.png().toBuffer();
    });
    imageCache.set(key, p);
  }
  return p;
}

export async function writeImage(root: string, img: GenImage, colour = 0): Promise<void> {
  const abs = path.join(root, ...img.rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, await imageBytes(img.width, img.height, img.format, colour));
}

function writeText(root: string, rel: string, text: string): void {
  const abs = path.join(root, ...rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, text);
}

/** A coordinate with many decimals (exercises float64 storage) inside [0, max]. */
function coord(rng: Rng, max: number): number {
  return Math.round(rng.uniform(0, max) * 1e9) / 1e9;
}

function randomBox(rng: Rng, w: number, h: number): Box {
  const x1 = Math.round(rng.uniform(0, w / 2));
  const y1 = Math.round(rng.uniform(0, h / 2));
  return [x1, y1, Math.round(rng.uniform(x1 + 1, w)), Math.round(rng.uniform(y1 + 1, h))];
}

// ------------------------------------------------------------------------------------------------
// SPair-71k
// ------------------------------------------------------------------------------------------------

export interface SpairSpec {
  categories?: string[];
  imagesPerCategory?: number;
  pairs?: Partial<Record<'trn' | 'val' | 'test', number>>;
  keypointsPerCategory?: number;
  seed?: number;
  /** Image sizes are drawn from [min, max] per side. */
  size?: [number, number];
}

interface ImageKps {
  img: GenImage;
  kps: Map<number, Pt>;
  bbox: Box;
}

/**
 * SPair-71k layout: JPEGImages/<cat>/<name>.jpg, Layout/large/<split>.txt, PairAnnotation/<split>/<pair>.json.
 * Every image has its own keypoints (a random subset of the category's), so pairs are consistent.
 */
export async function genSpair(root: string, spec: SpairSpec = {}): Promise<Generated> {
  const rng = new Rng(spec.seed ?? 1);
  const categories = spec.categories ?? ['aeroplane', 'bicycle', 'cat'];
  const perCat = spec.imagesPerCategory ?? 4;
  const K = spec.keypointsPerCategory ?? 8;
  const [lo, hi] = spec.size ?? [40, 96];
  const splits = { trn: 6, val: 2, test: 3, ...spec.pairs };
  const images = new Map<string, GenImage>();
  const byCat = new Map<string, ImageKps[]>();
  let serial = 0;
  for (const cat of categories) {
    const list: ImageKps[] = [];
    for (let i = 0; i < perCat; i++) {
      const name = `20${String(10 + (serial % 90)).padStart(2, '0')}_${String(serial).padStart(6, '0')}`;
      serial++;
      const img: GenImage = { rel: `JPEGImages/${cat}/${name}.jpg`, width: rng.int(lo, hi + 1), height: rng.int(lo, hi + 1), format: 'jpeg' };
      const kps = new Map<number, Pt>();
      for (let k = 0; k < K; k++) if (k < 2 || rng.next() < 0.7) kps.set(k, [coord(rng, img.width), coord(rng, img.height)]);
      list.push({ img, kps, bbox: randomBox(rng, img.width, img.height) });
      images.set(img.rel, img);
    }
    byCat.set(cat, list);
  }
  await Promise.all([...images.values()].map((img, i) => writeImage(root, img, i)));

  const pairs: ExpectedPair[] = [];
  let id = 0;
  for (const split of ['trn', 'val', 'test'] as const) {
    const lines: string[] = [];
    for (let p = 0; p < splits[split]; p++) {
      const cat = categories[p % categories.length]!;
      const list = byCat.get(cat)!;
      const si = rng.int(0, list.length);
      let ti = rng.int(0, list.length - 1);
      if (ti >= si) ti++;
      const s = list[si % list.length]!;
      const t = list[ti % list.length]!;
      const kpIds = [...s.kps.keys()].filter((k) => t.kps.has(k)).sort((a, b) => a - b);
      const srcStem = path.posix.basename(s.img.rel, '.jpg');
      const trgStem = path.posix.basename(t.img.rel, '.jpg');
      const name = `${String(++id).padStart(6, '0')}-${srcStem}-${trgStem}:${cat}`;
      const flags = { viewpointVariation: rng.int(0, 3), scaleVariation: rng.int(0, 3), truncation: rng.int(0, 5), occlusion: rng.int(0, 5), mirror: rng.int(0, 2) };
      const pair: ExpectedPair = {
        split,
        name,
        category: cat,
        src: s.img.rel,
        trg: t.img.rel,
        srcKps: kpIds.map((k) => s.kps.get(k)!),
        trgKps: kpIds.map((k) => t.kps.get(k)!),
        srcBbox: s.bbox,
        trgBbox: t.bbox,
        kpIds,
        flip: 0,
        flags,
      };
      pairs.push(pair);
      lines.push(name);
      writeText(root, `PairAnnotation/${split}/${name}.json`, JSON.stringify(spairJson(pair, s.img, t.img, id)));
    }
    writeText(root, `Layout/large/${split}.txt`, lines.map((l) => `${l}\n`).join(''));
  }
  const annotations: ExpectedAnnotation[] = [];
  for (const [cat, list] of byCat) {
    for (const s of list) {
      const used = pairs.filter((p) => p.src === s.img.rel || p.trg === s.img.rel);
      if (used.length === 0) continue;
      const kps = new Map<number, [number, number, 1 | 2]>();
      for (const p of used) for (const k of p.kpIds!) kps.set(k, [...s.kps.get(k)!, 2]);
      const first = used[0]!;
      annotations.push({ image: s.img.rel, category: cat, bbox: first.src === s.img.rel ? first.srcBbox : first.trgBbox, keypoints: kps });
    }
  }
  // Only images used by pairs belong to the imported dataset.
  const usedImages = new Map([...images].filter(([rel]) => pairs.some((p) => p.src === rel || p.trg === rel)));
  return { root, images: usedImages, categories, pairs, annotations };
}

export function spairJson(p: ExpectedPair, s: GenImage, t: GenImage, id: number): Record<string, unknown> {
  return {
    pair_id: id,
    src_imname: path.posix.basename(p.src),
    trg_imname: path.posix.basename(p.trg),
    src_imsize: [s.width, s.height, 3],
    trg_imsize: [t.width, t.height, 3],
    src_bndbox: p.srcBbox,
    trg_bndbox: p.trgBbox,
    category: p.category,
    src_pose: 'Unspecified',
    trg_pose: 'Unspecified',
    src_kps: p.srcKps,
    trg_kps: p.trgKps,
    kps_ids: p.kpIds!.map(String),
    mirror: p.flags.mirror,
    viewpoint_variation: p.flags.viewpointVariation,
    scale_variation: p.flags.scaleVariation,
    truncation: p.flags.truncation,
    occlusion: p.flags.occlusion,
  };
}

/**
 * A large SPair-format dataset for the crash test and the benchmark: `pairs` pairs over `images`
 * images (reused across pairs, as SPair has ~1,800 images for ~70k pairs), all in trn.
 */
export async function genLargeSpair(
  root: string,
  opts: { pairs: number; images: number; categories?: number; seed?: number; size?: [number, number] },
): Promise<{ root: string; pairs: number; images: number }> {
  const rng = new Rng(opts.seed ?? 7);
  const nCat = opts.categories ?? 18;
  const cats = Array.from({ length: nCat }, (_, i) => `category${String(i).padStart(2, '0')}`);
  const [lo, hi] = opts.size ?? [64, 128];
  const perCat = Math.max(2, Math.ceil(opts.images / nCat));
  const imgs = cats.map((cat, c) =>
    Array.from({ length: perCat }, (_, i) => {
      const img: GenImage = { rel: `JPEGImages/${cat}/${String(c * perCat + i).padStart(8, '0')}.jpg`, width: rng.int(lo, hi + 1), height: rng.int(lo, hi + 1), format: 'jpeg' };
      const kps = new Map<number, Pt>();
      for (let k = 0; k < 12; k++) kps.set(k, [coord(rng, img.width), coord(rng, img.height)]);
      return { img, kps, bbox: randomBox(rng, img.width, img.height) };
    }),
  );
  const all = imgs.flat();
  for (let i = 0; i < all.length; i += 32) await Promise.all(all.slice(i, i + 32).map((x, j) => writeImage(root, x.img, i + j)));
  const lines: string[] = [];
  fs.mkdirSync(path.join(root, 'PairAnnotation', 'trn'), { recursive: true });
  for (let p = 0; p < opts.pairs; p++) {
    const c = p % nCat;
    const list = imgs[c]!;
    const si = rng.int(0, list.length);
    const ti = (si + 1 + rng.int(0, list.length - 1)) % list.length;
    const s = list[si]!;
    const t = list[ti]!;
    const kpIds = Array.from({ length: 12 }, (_, k) => k).filter(() => rng.next() < 0.8);
    if (kpIds.length === 0) kpIds.push(0);
    const name = `${String(p + 1).padStart(6, '0')}-${path.posix.basename(s.img.rel, '.jpg')}-${path.posix.basename(t.img.rel, '.jpg')}:${cats[c]}`;
    const pair: ExpectedPair = {
      split: 'trn',
      name,
      category: cats[c]!,
      src: s.img.rel,
      trg: t.img.rel,
      srcKps: kpIds.map((k) => s.kps.get(k)!),
      trgKps: kpIds.map((k) => t.kps.get(k)!),
      srcBbox: s.bbox,
      trgBbox: t.bbox,
      kpIds,
      flip: 0,
      flags: { viewpointVariation: rng.int(0, 3), scaleVariation: rng.int(0, 3), truncation: rng.int(0, 5), occlusion: rng.int(0, 5), mirror: 0 },
    };
    fs.writeFileSync(path.join(root, 'PairAnnotation', 'trn', `${name}.json`), JSON.stringify(spairJson(pair, s.img, t.img, p + 1)));
    lines.push(name);
  }
  writeText(root, 'Layout/large/trn.txt', lines.map((l) => `${l}\n`).join(''));
  return { root, pairs: opts.pairs, images: all.length };
}

// ------------------------------------------------------------------------------------------------
// PF-Pascal
// ------------------------------------------------------------------------------------------------

export const PASCAL = [
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
];

export interface PascalImage extends ImageKps {
  /** Per .mat row: the point, or null (a NaN row). */
  rows: (Pt | null)[];
  cat: string;
  mat: string;
}

/**
 * PF-Pascal layout: PF-dataset-PASCAL/JPEGImages/*.jpg, PF-dataset-PASCAL/Annotations/<cat>/<img>.mat,
 * {trn,val,test}_pairs.csv (trn with flip). .mat files alternate: compressed / not, big-endian
 * once, bbox as uint16 or as a double stored with uint8/uint16 elements.
 */
export async function genPfPascal(
  root: string,
  opts: { categories?: string[]; imagesPerCategory?: number; pairs?: Partial<Record<'trn' | 'val' | 'test', number>>; rows?: number; seed?: number } = {},
): Promise<Generated & { pascal: PascalImage[] }> {
  const rng = new Rng(opts.seed ?? 3);
  const cats = opts.categories ?? ['aeroplane', 'car', 'dog'];
  const perCat = opts.imagesPerCategory ?? 4;
  const R = opts.rows ?? 9;
  const splits = { trn: 6, val: 3, test: 3, ...opts.pairs };
  const base = 'PF-dataset-PASCAL';
  const images = new Map<string, GenImage>();
  const pascal: PascalImage[] = [];
  let serial = 0;
  for (const cat of cats) {
    for (let i = 0; i < perCat; i++) {
      const name = `2009_${String(serial++).padStart(6, '0')}`;
      const img: GenImage = { rel: `${base}/JPEGImages/${name}.jpg`, width: rng.int(48, 100), height: rng.int(48, 100), format: 'jpeg' };
      const rows: (Pt | null)[] = Array.from({ length: R }, (_, r) => (r < 3 || rng.next() < 0.6 ? [coord(rng, img.width), coord(rng, img.height)] : null));
      const kps = new Map<number, Pt>();
      rows.forEach((p, r) => p && kps.set(r, p));
      const entry: PascalImage = { img, kps, rows, bbox: randomBox(rng, img.width, img.height), cat, mat: `${base}/Annotations/${cat}/${name}.mat` };
      pascal.push(entry);
      images.set(img.rel, img);
      const variant = serial % 4;
      const kpsVar = { name: 'kps', class: 'double' as const, dims: [R, 2], data: columnMajor(rows.map((p) => p ?? [NaN, NaN])) };
      const bboxVar =
        variant === 1
          ? { name: 'bbox', class: 'double' as const, dims: [1, 4], data: entry.bbox, storeAs: 'uint16' as const }
          : variant === 2
            ? { name: 'bbox', class: 'double' as const, dims: [1, 4], data: entry.bbox, storeAs: Math.max(...entry.bbox) < 256 ? ('uint8' as const) : ('uint16' as const) }
            : { name: 'bbox', class: 'uint16' as const, dims: [1, 4], data: entry.bbox };
      const mat = writeMat([{ name: 'class', class: 'char', text: cat }, kpsVar, bboxVar, { name: 'extra', class: 'cell', cells: [{ name: '', class: 'double', dims: [1, 1], data: [1] }] }], {
        compress: variant !== 3,
        bigEndian: variant === 2,
      });
      writeText(root, entry.mat, '');
      fs.writeFileSync(path.join(root, ...entry.mat.split('/')), mat);
    }
  }
  await Promise.all([...images.values()].map((img, i) => writeImage(root, img, i)));
  const pairs: ExpectedPair[] = [];
  for (const split of ['trn', 'val', 'test'] as const) {
    const header = split === 'trn' ? 'source_image,target_image,class,flip' : 'source_image,target_image,class';
    const lines = [header];
    const names = new Set<string>();
    for (let p = 0; p < splits[split]; p++) {
      const cat = cats[p % cats.length]!;
      const list = pascal.filter((x) => x.cat === cat);
      const si = rng.int(0, list.length);
      const ti = (si + 1 + rng.int(0, list.length - 1)) % list.length;
      const s = list[si]!;
      const t = list[ti]!;
      const flip = split === 'trn' ? (rng.int(0, 2) as 0 | 1) : 0;
      const kept = s.rows.map((_, r) => r).filter((r) => s.rows[r] && t.rows[r]);
      const stemS = path.posix.basename(s.img.rel, '.jpg');
      const stemT = path.posix.basename(t.img.rel, '.jpg');
      let name = `${stemS}-${stemT}${flip ? '-flip' : ''}`;
      for (let k = 2; names.has(name); k++) name = `${stemS}-${stemT}${flip ? '-flip' : ''}~${k}`;
      names.add(name);
      pairs.push({
        split,
        name,
        category: cat,
        src: s.img.rel,
        trg: t.img.rel,
        srcKps: kept.map((r) => s.rows[r]!),
        trgKps: kept.map((r) => t.rows[r]!),
        srcBbox: s.bbox,
        trgBbox: t.bbox,
        kpIds: kept,
        flip,
        flags: { viewpointVariation: null, scaleVariation: null, truncation: null, occlusion: null, mirror: null },
      });
      const cls = PASCAL.indexOf(cat) + 1;
      lines.push([s.img.rel, t.img.rel, cls, ...(split === 'trn' ? [flip] : [])].join(','));
    }
    writeText(root, `${split}_pairs.csv`, `${lines.join('\n')}\n`);
  }
  const used = new Set(pairs.flatMap((p) => [p.src, p.trg]));
  const annotations: ExpectedAnnotation[] = pascal
    .filter((x) => used.has(x.img.rel))
    .map((x) => ({ image: x.img.rel, category: x.cat, bbox: x.bbox, keypoints: new Map([...x.kps].map(([k, p]) => [k, [p[0], p[1], 2] as [number, number, 2]])) }));
  return { root, images: new Map([...images].filter(([rel]) => used.has(rel))), categories: cats, pairs, annotations, pascal };
}

// ------------------------------------------------------------------------------------------------
// PF-Willow
// ------------------------------------------------------------------------------------------------

/** PF-Willow layout: PF-dataset/<cat>/*.png and test_pairs.csv (imageA, imageB, XA1..10, YA1..10, XB1..10, YB1..10). */
export async function genPfWillow(root: string, opts: { categories?: string[]; imagesPerCategory?: number; pairs?: number; seed?: number } = {}): Promise<Generated> {
  const rng = new Rng(opts.seed ?? 5);
  const cats = opts.categories ?? ['car(G)', 'duck(S)', 'winebottle(wC)'];
  const perCat = opts.imagesPerCategory ?? 3;
  const nPairs = opts.pairs ?? 7;
  const images = new Map<string, GenImage>();
  const kpsOf = new Map<string, Pt[]>();
  for (const cat of cats) {
    for (let i = 0; i < perCat; i++) {
      const img: GenImage = { rel: `PF-dataset/${cat}/${cat.replace(/\W/g, '')}_${String(i).padStart(3, '0')}a.png`, width: rng.int(40, 90), height: rng.int(40, 90), format: 'png' };
      images.set(img.rel, img);
      kpsOf.set(
        img.rel,
        Array.from({ length: 10 }, () => [coord(rng, img.width), coord(rng, img.height)] as Pt),
      );
    }
  }
  await Promise.all([...images.values()].map((img, i) => writeImage(root, img, i)));
  const header = ['imageA', 'imageB', ...['XA', 'YA', 'XB', 'YB'].flatMap((p) => Array.from({ length: 10 }, (_, k) => `${p}${k + 1}`))];
  const lines = [header.join(',')];
  const pairs: ExpectedPair[] = [];
  const names = new Set<string>();
  for (let p = 0; p < nPairs; p++) {
    const cat = cats[p % cats.length]!;
    const list = [...images.values()].filter((x) => x.rel.startsWith(`PF-dataset/${cat}/`));
    const si = rng.int(0, list.length);
    const ti = (si + 1 + rng.int(0, list.length - 1)) % list.length;
    const a = list[si]!;
    const b = list[ti]!;
    const ka = kpsOf.get(a.rel)!;
    const kb = kpsOf.get(b.rel)!;
    lines.push([a.rel, b.rel, ...ka.map((q) => q[0]), ...ka.map((q) => q[1]), ...kb.map((q) => q[0]), ...kb.map((q) => q[1])].join(','));
    const stemA = path.posix.basename(a.rel, '.png');
    const stemB = path.posix.basename(b.rel, '.png');
    let name = `${stemA}-${stemB}`;
    for (let k = 2; names.has(name); k++) name = `${stemA}-${stemB}~${k}`;
    names.add(name);
    pairs.push({
      split: 'test',
      name,
      category: cat,
      src: a.rel,
      trg: b.rel,
      srcKps: ka,
      trgKps: kb,
      srcBbox: null,
      trgBbox: null,
      kpIds: Array.from({ length: 10 }, (_, k) => k),
      flip: 0,
      flags: { viewpointVariation: null, scaleVariation: null, truncation: null, occlusion: null, mirror: null },
    });
  }
  writeText(root, 'test_pairs.csv', `${lines.join('\r\n')}\r\n`);
  const used = new Set(pairs.flatMap((p) => [p.src, p.trg]));
  const annotations: ExpectedAnnotation[] = [...used].map((rel) => ({
    image: rel,
    category: rel.split('/')[1]!,
    bbox: null,
    keypoints: new Map(kpsOf.get(rel)!.map((q, k) => [k, [q[0], q[1], 2] as [number, number, 2]])),
  }));
  return { root, images: new Map([...images].filter(([rel]) => used.has(rel))), categories: cats.filter((c) => pairs.some((p) => p.category === c)).sort(), pairs, annotations };
}

// ------------------------------------------------------------------------------------------------
// Folder and COCO
// ------------------------------------------------------------------------------------------------

/** A folder of images (with a subfolder, a text file and a hidden file). */
export async function genFolder(root: string, opts: { images?: number; seed?: number } = {}): Promise<Generated & { skippedFiles: string[] }> {
  const rng = new Rng(opts.seed ?? 11);
  const n = opts.images ?? 5;
  const images = new Map<string, GenImage>();
  for (let i = 0; i < n; i++) {
    const format = i % 2 === 0 ? 'jpeg' : 'png';
    const rel = `${i % 3 === 2 ? 'more/' : ''}img_${i}.${format === 'jpeg' ? 'jpg' : 'png'}`;
    images.set(rel, { rel, width: rng.int(30, 80), height: rng.int(30, 80), format });
  }
  await Promise.all([...images.values()].map((img, i) => writeImage(root, img, i)));
  writeText(root, 'notes.txt', 'captured on the bench\n');
  writeText(root, '.DS_Store', 'x');
  return { root, images, categories: [path.basename(root)], pairs: [], annotations: [], skippedFiles: ['notes.txt'] };
}

export interface CocoSpec {
  images?: number;
  seed?: number;
  /** Where images live under the root. */
  imageDir?: string;
}

/**
 * A COCO keypoints dataset: images under `images/`, `annotations.json` with two categories
 * (keypoint names, 1-based skeleton), several instances per image, visibility 0/1/2.
 */
export async function genCoco(root: string, spec: CocoSpec = {}): Promise<Generated & { json: Record<string, unknown> }> {
  const rng = new Rng(spec.seed ?? 13);
  const n = spec.images ?? 4;
  const dir = spec.imageDir ?? 'images';
  const categories = [
    {
      id: 1,
      name: 'person',
      supercategory: 'person',
      keypoints: ['nose', 'left_eye', 'right_eye', 'left_hand', 'right_hand'],
      skeleton: [
        [1, 2],
        [1, 3],
        [2, 4],
        [3, 5],
      ],
    },
    {
      id: 7,
      name: 'widget',
      supercategory: 'thing',
      keypoints: ['tip', 'base', 'handle'],
      skeleton: [
        [1, 2],
        [2, 3],
      ],
    },
  ];
  const images = new Map<string, GenImage>();
  const cocoImages: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const rel = `${dir}/${String(i + 1).padStart(12, '0')}.jpg`;
    const img: GenImage = { rel, width: rng.int(50, 110), height: rng.int(50, 110), format: 'jpeg' };
    images.set(rel, img);
    cocoImages.push({ id: 100 + i, file_name: rel, width: img.width, height: img.height });
  }
  await Promise.all([...images.values()].map((img, i) => writeImage(root, img, i)));
  const annotations: ExpectedAnnotation[] = [];
  const cocoAnns: Record<string, unknown>[] = [];
  let annId = 1000;
  [...images.values()].forEach((img, i) => {
    const instances = i === 0 ? [categories[0]!, categories[0]!, categories[1]!] : [categories[i % 2]!];
    for (const cat of instances) {
      const kps = new Map<number, [number, number, 1 | 2]>();
      const flat: number[] = [];
      cat.keypoints.forEach((_, k) => {
        const v = k === 0 ? 2 : rng.int(0, 3);
        if (v === 0) flat.push(0, 0, 0);
        else {
          const x = coord(rng, img.width);
          const y = coord(rng, img.height);
          flat.push(x, y, v);
          kps.set(k, [x, y, v as 1 | 2]);
        }
      });
      const b = randomBox(rng, img.width, img.height);
      annotations.push({ image: img.rel, category: cat.name, bbox: b, keypoints: kps });
      cocoAnns.push({
        id: annId++,
        image_id: 100 + i,
        category_id: cat.id,
        keypoints: flat,
        num_keypoints: kps.size,
        bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]],
        area: (b[2] - b[0]) * (b[3] - b[1]),
        iscrowd: 0,
      });
    }
  });
  const json = { info: { description: 'test' }, images: cocoImages, annotations: cocoAnns, categories };
  writeText(root, 'annotations.json', JSON.stringify(json));
  return { root, images, categories: categories.map((c) => c.name), pairs: [], annotations, json };
}

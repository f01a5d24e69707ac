/**
 * PF-Pascal, read from its published folder:
 *   PF-dataset-PASCAL/JPEGImages/<image>.jpg
 *   PF-dataset-PASCAL/Annotations/<class>/<image>.mat   MATLAB v5 (often zlib-compressed): `kps`
 *       N x 2 with NaN rows for keypoints absent from the image, `bbox` [x1 y1 x2 y2]
 *   {trn,val,test}_pairs.csv   source_image, target_image, class (1-based in the 20 VOC classes),
 *       and in trn a `flip` flag (mirror both images, keypoints and boxes horizontally)
 * A pair's correspondences are the `kps` rows annotated in both images (the reference drops a row
 * pair when either side is NaN); both files must have the same number of rows. Images and .mat
 * files are found by the CSV path's file name, as the reference does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { SPLITS, type Split } from './domain.js';
import type { Box } from './domain.js';
import { parseCsvTable } from './csv.js';
import { isDir, readTextIfExists, stem } from './fs-util.js';
import { matMatrix, readMat } from './mat5.js';
import { normalizeDatasetPath } from '../images/safe-path.js';
import { imageFor, keypointDefs, NO_FLAGS, type ParsedDataset, type ParsedPair, type Reader } from './types.js';

export const PASCAL_CLASSES = [
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

const BASE = 'PF-dataset-PASCAL';

interface MatAnnotation {
  /** rows x [x, y]; NaN where absent. */
  kps: [number, number][];
  bbox: Box;
}

/** Reads `kps` and `bbox` from one annotation file; a string is the reason it is unusable. */
function readAnnotation(abs: string, rel: string): MatAnnotation | string {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'annotation file is missing' : `cannot read (${code})`;
  }
  try {
    const vars = readMat(buf, rel);
    const kps = matMatrix(vars, 'kps', rel);
    const rows: [number, number][] = [];
    if (!(kps.rows === 0 || kps.cols === 0)) {
      if (kps.cols !== 2) return `variable 'kps' is ${kps.rows} x ${kps.cols}; expected N x 2 (x, y per row)`;
      // Each row is a keypoint of the category's schema: the schema editor's limit holds here too.
      if (kps.rows > MAX_KEYPOINTS_PER_CATEGORY) return `variable 'kps' has ${kps.rows} rows; a category has at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`;
      for (let r = 0; r < kps.rows; r++) {
        const x = kps.at(r, 0);
        const y = kps.at(r, 1);
        if (!Number.isNaN(x) && !Number.isFinite(x)) return `variable 'kps' row ${r + 1} holds ${x}`;
        if (!Number.isNaN(y) && !Number.isFinite(y)) return `variable 'kps' row ${r + 1} holds ${y}`;
        rows.push([x, y]);
      }
    }
    const b = matMatrix(vars, 'bbox', rel);
    if (b.rows * b.cols !== 4) return `variable 'bbox' is ${b.rows} x ${b.cols}; expected 4 values [x1 y1 x2 y2]`;
    const flat = b.rows === 1 ? [0, 1, 2, 3].map((c) => b.at(0, c)) : [0, 1, 2, 3].map((r) => b.at(r, 0));
    if (!flat.every(Number.isFinite)) return `variable 'bbox' holds a non-finite value [${flat.join(' ')}]`;
    const [x1, y1, x2, y2] = flat as [number, number, number, number];
    if (x2 < x1 || y2 < y1) return `variable 'bbox' [${flat.join(' ')}] has x2 < x1 or y2 < y1`;
    return { kps: rows, bbox: [x1, y1, x2, y2] };
  } catch (err) {
    if (err instanceof AppError) return err.message.startsWith(`${rel}: `) ? err.message.slice(rel.length + 2) : err.message;
    throw err;
  }
}

export const readPfPascal: Reader = async (ctx) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  for (const sub of ['JPEGImages', 'Annotations']) {
    if (!isDir(path.join(root, BASE, sub))) {
      throw problems.fatal({ file: `${BASE}/${sub}/` }, `missing: ${root} does not look like PF-Pascal (expected ${BASE}/JPEGImages/, ${BASE}/Annotations/ and {trn,val,test}_pairs.csv)`);
    }
  }
  const tables: { split: Split; file: string; header: string[]; rows: { line: number; fields: string[] }[] }[] = [];
  for (const split of SPLITS) {
    const file = `${split}_pairs.csv`;
    const text = readTextIfExists(path.join(root, file));
    if (text === null) {
      problems.skip({ file }, `not found; split '${split}' not imported`);
      continue;
    }
    const t = parseCsvTable(text, file);
    for (const col of ['source_image', 'target_image', 'class']) {
      if (!t.header.includes(col)) throw problems.fatal({ file, entry: 'line 1' }, `the header must name source_image, target_image and class; got ${t.header.join(', ')}`);
    }
    tables.push({ split, file, ...t });
  }
  if (tables.length === 0) throw problems.fatal({ file: '{trn,val,test}_pairs.csv' }, 'no pair list found: nothing to import');
  const total = tables.reduce((n, t) => n + t.rows.length, 0);
  ctx.progress('scanning', 1, 1);

  const mats = new Map<string, MatAnnotation | string>();
  const loadMat = (rel: string) => {
    let m = mats.get(rel);
    if (m === undefined) {
      m = readAnnotation(path.join(root, ...rel.split('/')), rel);
      mats.set(rel, m);
    }
    return m;
  };

  const images: ParsedDataset['images'] = new Map();
  const imageAnnotated = new Set<string>();
  const pairs: ParsedPair[] = [];
  const kpRows = new Map<string, number>();
  let done = 0;
  for (const { split, file, header, rows } of tables) {
    const col = (name: string) => header.indexOf(name);
    const [iSrc, iTrg, iClass] = [col('source_image'), col('target_image'), col('class')];
    const iFlip = split === 'trn' ? col('flip') : -1;
    const names = new Set<string>();
    let ordinal = 0;
    for (const row of rows) {
      await ctx.tick();
      ctx.progress('reading annotations', ++done, total);
      const at = { file, entry: `line ${row.line}` };
      if (row.fields.length !== header.length) {
        problems.invalid(at, `malformed CSV: ${row.fields.length} fields, the header has ${header.length}`);
        continue;
      }
      const f = row.fields.map((s) => s.trim());
      const cls = Number(f[iClass]);
      if (!Number.isInteger(cls) || cls < 1 || cls > PASCAL_CLASSES.length) {
        problems.invalid(at, `unknown category: class '${f[iClass]}' (PF-Pascal classes are 1..${PASCAL_CLASSES.length})`);
        continue;
      }
      const category = PASCAL_CLASSES[cls - 1]!;
      let flip: 0 | 1 = 0;
      if (iFlip >= 0) {
        const v = Number(f[iFlip]);
        if (v !== 0 && v !== 1) {
          problems.invalid(at, `flip must be 0 or 1, got '${f[iFlip]}'`);
          continue;
        }
        flip = v as 0 | 1;
      }
      const srcName = normalizeDatasetPath(f[iSrc]!).split('/').pop() ?? '';
      const trgName = normalizeDatasetPath(f[iTrg]!).split('/').pop() ?? '';
      if (!srcName || !trgName || srcName === '..' || trgName === '..') {
        problems.invalid(at, 'source_image and target_image must name image files');
        continue;
      }
      const srcMatRel = `${BASE}/Annotations/${category}/${stem(srcName)}.mat`;
      const trgMatRel = `${BASE}/Annotations/${category}/${stem(trgName)}.mat`;
      const srcAnn = loadMat(srcMatRel);
      const trgAnn = loadMat(trgMatRel);
      let bad = false;
      for (const [rel, ann] of [
        [srcMatRel, srcAnn],
        [trgMatRel, trgAnn],
      ] as const) {
        if (typeof ann === 'string') {
          problems.invalid({ file: rel, entry: `used by ${file} line ${row.line}` }, ann);
          bad = true;
          break;
        }
      }
      if (bad) continue;
      const s = srcAnn as MatAnnotation;
      const t = trgAnn as MatAnnotation;
      if (s.kps.length !== t.kps.length) {
        problems.invalid(at, `keypoint counts differ: ${srcMatRel} has ${s.kps.length} kps rows, ${trgMatRel} has ${t.kps.length}`);
        continue;
      }
      const kept: number[] = [];
      for (let r = 0; r < s.kps.length; r++) {
        const [sx, sy] = s.kps[r]!;
        const [tx, ty] = t.kps[r]!;
        if (!Number.isNaN(sx) && !Number.isNaN(sy) && !Number.isNaN(tx) && !Number.isNaN(ty)) kept.push(r);
      }
      if (kept.length === 0) {
        problems.invalid(at, `no keypoint is annotated in both ${srcMatRel} and ${trgMatRel}`);
        continue;
      }
      const points = new Float64Array(kept.length * 4);
      kept.forEach((r, k) => {
        points.set([s.kps[r]![0], s.kps[r]![1], t.kps[r]![0], t.kps[r]![1]], 4 * k);
      });
      const srcPath = `${BASE}/JPEGImages/${srcName}`;
      const trgPath = `${BASE}/JPEGImages/${trgName}`;
      for (const [p, ann] of [
        [srcPath, s],
        [trgPath, t],
      ] as const) {
        const img = imageFor(images, p, category, at);
        const key = `${p}\n${category}`;
        if (!imageAnnotated.has(key)) {
          imageAnnotated.add(key);
          img.annotations.push({
            category,
            instance: 0,
            bbox: ann.bbox,
            keypoints: ann.kps.flatMap(([x, y], kp) => (Number.isNaN(x) || Number.isNaN(y) ? [] : [{ kp, x, y, visibility: 2 as const }])),
            origin: { file: p === srcPath ? srcMatRel : trgMatRel },
          });
        }
      }
      kpRows.set(category, Math.max(kpRows.get(category) ?? 0, s.kps.length));
      let name = `${stem(srcName)}-${stem(trgName)}${flip ? '-flip' : ''}`;
      for (let k = 2; names.has(name); k++) name = `${stem(srcName)}-${stem(trgName)}${flip ? '-flip' : ''}~${k}`;
      names.add(name);
      pairs.push({
        split,
        name,
        ordinal: ordinal++,
        category,
        src: srcPath,
        trg: trgPath,
        srcBbox: s.bbox,
        trgBbox: t.bbox,
        points,
        kpIds: kept,
        flip,
        flags: NO_FLAGS,
        origin: at,
      });
    }
  }

  const used = PASCAL_CLASSES.filter((c) => kpRows.has(c));
  return {
    format: 'pfpascal',
    defaultName: 'PF-Pascal',
    source: '',
    categories: used.map((name) => ({
      name,
      ordinal: PASCAL_CLASSES.indexOf(name),
      keypoints: keypointDefs(Array.from({ length: kpRows.get(name)! }, (_, k) => String(k))),
      skeleton: [],
    })),
    images,
    pairs,
    userAnnotations: false,
    deriveImageAnnotations: false,
  };
};

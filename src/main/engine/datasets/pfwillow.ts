/**
 * PF-Willow, read from its published folder:
 *   PF-dataset/<category>/<image>.png
 *   test_pairs.csv   imageA, imageB, then the x coordinates of A's keypoints, A's y coordinates,
 *                    B's x, B's y (10 each in the published file)
 * Image paths in the CSV start with the folder name ('PF-dataset/car(G)/...'); as in the
 * reference, the part after the first component is taken relative to PF-dataset/, and the
 * category is the folder. All pairs are in the test split.
 */
import path from 'node:path';
import { parseCsvTable } from './csv.js';
import { isDir, readTextIfExists, stem } from './fs-util.js';
import { normalizeDatasetPath, relativePathProblem } from '../images/safe-path.js';
import { imageFor, keypointDefs, NO_FLAGS, type ParsedDataset, type ParsedPair, type Reader } from './types.js';

const BASE = 'PF-dataset';
const FILE = 'test_pairs.csv';

export const readPfWillow: Reader = async (ctx) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  if (!isDir(path.join(root, BASE))) throw problems.fatal({ file: `${BASE}/` }, `missing: ${root} does not look like PF-Willow (expected ${BASE}/ and ${FILE})`);
  const text = readTextIfExists(path.join(root, FILE));
  if (text === null) throw problems.fatal({ file: FILE }, `missing: ${root} does not look like PF-Willow (expected ${BASE}/ and ${FILE})`);
  const { header, rows } = parseCsvTable(text, FILE);
  const nCoords = header.length - 2;
  if (header.length < 6 || nCoords % 4 !== 0) {
    throw problems.fatal({ file: FILE, entry: 'line 1' }, `the header must be imageA, imageB and 4 equal groups of coordinates (xA, yA, xB, yB); got ${header.length} columns`);
  }
  const n = nCoords / 4;
  ctx.progress('scanning', 1, 1);

  const images: ParsedDataset['images'] = new Map();
  const pairs: ParsedPair[] = [];
  const categories = new Set<string>();
  const names = new Set<string>();
  let done = 0;
  for (const row of rows) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, rows.length);
    const at = { file: FILE, entry: `line ${row.line}` };
    if (row.fields.length !== header.length) {
      problems.invalid(at, `malformed CSV: ${row.fields.length} fields, the header has ${header.length}`);
      continue;
    }
    const f = row.fields.map((s) => s.trim());
    const sides: { rel: string; category: string }[] = [];
    for (const [col, raw] of [
      [header[0], f[0]!],
      [header[1], f[1]!],
    ] as const) {
      const parts = normalizeDatasetPath(raw).split('/');
      if (parts[0] === BASE) parts.shift();
      const rel = `${BASE}/${parts.join('/')}`;
      const problem = relativePathProblem(parts.join('/'));
      if (parts.length < 2 || problem) {
        problems.invalid(at, `${col} '${raw}' is not ${BASE}/<category>/<image>${problem ? ` (${problem})` : ''}`);
        break;
      }
      sides.push({ rel, category: parts[0]! });
    }
    if (sides.length !== 2) continue;
    const [a, b] = sides as [{ rel: string; category: string }, { rel: string; category: string }];
    if (!isDir(path.join(root, BASE, a.category))) {
      problems.invalid(at, `unknown category '${a.category}' (no folder ${BASE}/${a.category}/)`);
      continue;
    }
    if (a.category !== b.category) {
      problems.invalid(at, `the images are in different categories: '${a.category}' and '${b.category}'`);
      continue;
    }
    const coords: number[] = [];
    let bad: string | null = null;
    for (let c = 2; c < header.length; c++) {
      const v = f[c]!;
      const x = v === '' ? NaN : Number(v);
      if (!Number.isFinite(x)) {
        bad ??= `column ${header[c] || c + 1} is not a number: '${v}'`;
      }
      coords.push(x);
    }
    if (bad) {
      problems.invalid(at, `malformed CSV: ${bad}`);
      continue;
    }
    const points = new Float64Array(4 * n);
    for (let k = 0; k < n; k++) points.set([coords[k]!, coords[n + k]!, coords[2 * n + k]!, coords[3 * n + k]!], 4 * k);
    imageFor(images, a.rel, a.category, at);
    imageFor(images, b.rel, b.category, at);
    categories.add(a.category);
    let name = `${stem(a.rel)}-${stem(b.rel)}`;
    for (let k = 2; names.has(name); k++) name = `${stem(a.rel)}-${stem(b.rel)}~${k}`;
    names.add(name);
    pairs.push({
      split: 'test',
      name,
      ordinal: pairs.length,
      category: a.category,
      src: a.rel,
      trg: b.rel,
      srcBbox: null,
      trgBbox: null,
      points,
      kpIds: Array.from({ length: n }, (_, k) => k),
      flip: 0,
      flags: NO_FLAGS,
      origin: at,
    });
  }

  return {
    format: 'pfwillow',
    defaultName: 'PF-Willow',
    source: '',
    categories: [...categories].sort().map((name, ordinal) => ({ name, ordinal, keypoints: keypointDefs(Array.from({ length: n }, (_, k) => String(k))), skeleton: [] })),
    images,
    pairs,
    userAnnotations: false,
    deriveImageAnnotations: true,
  };
};

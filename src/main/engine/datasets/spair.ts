/**
 * SPair-71k, read from its published folder:
 *   JPEGImages/<category>/<image>.jpg
 *   Layout/large/{trn,val,test}.txt      one pair per line: <id>-<src>-<trg>:<category>
 *   PairAnnotation/<split>/<line>.json   src_imname, trg_imname, category, src_kps/trg_kps [[x, y]...],
 *                                        src_bndbox/trg_bndbox [x1, y1, x2, y2], kps_ids, src_imsize/trg_imsize,
 *                                        viewpoint_variation, scale_variation, truncation, occlusion, mirror
 * Categories are the folders of JPEGImages (sorted, as the reference does). Keypoints of a
 * category are named by their SPair id ('0', '1', ...); each image's keypoints come from the pairs
 * that use it (kps_ids). A split without its layout file is reported and skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { SPLITS, type Split } from './domain.js';
import type { PairFlags } from './domain.js';
import { isDir, parseJsonBytes, readTextIfExists, subdirectories } from './fs-util.js';
import { declareSize, imageFor, keypointDefs, parseBox, parsePointList, type ParsedDataset, type ParsedPair, type Reader } from './types.js';

const LAYOUT_LINE = /^([^-:/\\]+)-([^-:/\\]+)-([^-:/\\]+):([^:/\\]+)$/;

function intOrNull(v: unknown): number | null | string {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return `must be an integer, got ${JSON.stringify(v)}`;
}

function parseKpIds(v: unknown, n: number): number[] | null | string {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) return 'must be a list of keypoint ids';
  if (v.length !== n) return `has ${v.length} ids for ${n} keypoints`;
  const out: number[] = [];
  for (const id of v) {
    const k = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0) return `id ${JSON.stringify(id)} is not a non-negative integer`;
    // an id is an index into the category's keypoint schema: the schema editor's limit holds here too
    if (k >= MAX_KEYPOINTS_PER_CATEGORY) return `holds keypoint id ${k}; a category has at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints (ids 0 to ${MAX_KEYPOINTS_PER_CATEGORY - 1})`;
    out.push(k);
  }
  return out;
}

function parseImsize(v: unknown): { width: number; height: number } | null | string {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length < 2 || !v.slice(0, 2).every((x) => Number.isInteger(x) && (x as number) > 0)) return 'must be [width, height, channels]';
  return { width: v[0] as number, height: v[1] as number };
}

export const readSpair: Reader = async (ctx) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  if (!isDir(path.join(root, 'JPEGImages'))) {
    throw problems.fatal({ file: 'JPEGImages/' }, `missing: ${root} does not look like SPair-71k (expected JPEGImages/, Layout/large/ and PairAnnotation/)`);
  }
  const categories = subdirectories(path.join(root, 'JPEGImages'));
  const known = new Set(categories);

  const layouts: { split: Split; file: string; lines: string[] }[] = [];
  for (const split of SPLITS) {
    const file = `Layout/large/${split}.txt`;
    const text = readTextIfExists(path.join(root, file));
    if (text === null) {
      problems.skip({ file }, `not found; split '${split}' not imported`);
      continue;
    }
    layouts.push({ split, file, lines: text.split(/\r?\n/) });
  }
  if (layouts.length === 0) throw problems.fatal({ file: 'Layout/large/' }, 'no layout file (trn.txt, val.txt, test.txt) found: nothing to import');
  const total = layouts.reduce((n, l) => n + l.lines.filter((s) => s.trim()).length, 0);
  ctx.progress('scanning', 1, 1);

  const images: ParsedDataset['images'] = new Map();
  const pairs: ParsedPair[] = [];
  const kpCount = new Map<string, number>();
  let done = 0;
  for (const { split, file, lines } of layouts) {
    const seen = new Map<string, number>();
    let ordinal = 0;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!.trim();
      if (!text) continue;
      await ctx.tick();
      ctx.progress('reading annotations', ++done, total);
      const at = { file, entry: `line ${i + 1}` };
      const m = LAYOUT_LINE.exec(text);
      if (!m) {
        problems.invalid(at, `'${text}' is not <id>-<source>-<target>:<category>`);
        continue;
      }
      const layoutCategory = m[4]!;
      const earlier = seen.get(text);
      if (earlier !== undefined) {
        problems.skip(at, `pair '${text}' is listed again (first at line ${earlier}); imported once`);
        continue;
      }
      seen.set(text, i + 1);
      const jsonFile = `PairAnnotation/${split}/${text}.json`;
      const origin = { file: jsonFile };
      let raw: Buffer;
      try {
        raw = fs.readFileSync(path.join(root, 'PairAnnotation', split, `${text}.json`));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        problems.invalid(origin, code === 'ENOENT' ? `annotation file is missing (listed in ${file} line ${i + 1})` : `cannot read (${code})`);
        continue;
      }
      const read = parseJsonBytes(raw);
      if ('problem' in read) {
        problems.invalid(origin, read.problem);
        continue;
      }
      if (read.value === null || typeof read.value !== 'object' || Array.isArray(read.value)) {
        problems.invalid(origin, 'malformed JSON: the top level is not an object');
        continue;
      }
      const a = read.value as Record<string, unknown>;
      const fail = (reason: string) => problems.invalid(origin, reason);
      const category = a.category;
      if (typeof category !== 'string') {
        fail("'category' must be a string");
        continue;
      }
      if (category !== layoutCategory) {
        fail(`category '${category}' does not match '${layoutCategory}' in ${file} line ${i + 1}`);
        continue;
      }
      if (!known.has(category)) {
        fail(`unknown category '${category}' (no folder JPEGImages/${category}/)`);
        continue;
      }
      const names = [a.src_imname, a.trg_imname];
      if (!names.every((n) => typeof n === 'string' && n.length > 0 && !/[/\\]/.test(n) && n !== '.' && n !== '..')) {
        fail("'src_imname' and 'trg_imname' must be image file names");
        continue;
      }
      const srcKps = parsePointList(a.src_kps);
      const trgKps = parsePointList(a.trg_kps);
      if (typeof srcKps === 'string') {
        fail(`'src_kps' ${srcKps}`);
        continue;
      }
      if (typeof trgKps === 'string') {
        fail(`'trg_kps' ${trgKps}`);
        continue;
      }
      if (srcKps.length !== trgKps.length) {
        fail(`keypoint counts differ: src_kps has ${srcKps.length} points, trg_kps has ${trgKps.length}`);
        continue;
      }
      if (srcKps.length === 0) {
        fail('the pair has no keypoints');
        continue;
      }
      const srcBox = parseBox(a.src_bndbox);
      const trgBox = parseBox(a.trg_bndbox);
      if (typeof srcBox === 'string') {
        fail(`'src_bndbox' ${srcBox}`);
        continue;
      }
      if (typeof trgBox === 'string') {
        fail(`'trg_bndbox' ${trgBox}`);
        continue;
      }
      const kpIds = parseKpIds(a.kps_ids, srcKps.length);
      if (typeof kpIds === 'string') {
        fail(`'kps_ids' ${kpIds}`);
        continue;
      }
      const flags: Partial<Record<keyof PairFlags, number | null>> = {};
      let flagError: string | null = null;
      for (const [key, field] of [
        ['viewpointVariation', 'viewpoint_variation'],
        ['scaleVariation', 'scale_variation'],
        ['truncation', 'truncation'],
        ['occlusion', 'occlusion'],
        ['mirror', 'mirror'],
      ] as const) {
        const v = intOrNull(a[field]);
        if (typeof v === 'string') flagError ??= `'${field}' ${v}`;
        else flags[key] = v;
      }
      if (flagError) {
        fail(flagError);
        continue;
      }
      const sizes = [parseImsize(a.src_imsize), parseImsize(a.trg_imsize)];
      const sizeError = sizes.findIndex((s) => typeof s === 'string');
      if (sizeError >= 0) {
        fail(`'${sizeError === 0 ? 'src' : 'trg'}_imsize' ${sizes[sizeError] as string}`);
        continue;
      }
      const points = new Float64Array(srcKps.length * 4);
      srcKps.forEach(([x, y], k) => {
        points[4 * k] = x;
        points[4 * k + 1] = y;
        points[4 * k + 2] = trgKps[k]![0];
        points[4 * k + 3] = trgKps[k]![1];
      });
      const [srcPath, trgPath] = names.map((n) => `JPEGImages/${category}/${n as string}`) as [string, string];
      [srcPath, trgPath].forEach((p, side) => {
        const img = imageFor(images, p, category, origin);
        const size = sizes[side] as { width: number; height: number } | null;
        if (size) declareSize(img, size, origin);
      });
      if (kpIds)
        kpCount.set(
          category,
          kpIds.reduce((m, k) => Math.max(m, k + 1), kpCount.get(category) ?? 0),
        );
      pairs.push({
        split,
        name: text,
        ordinal: ordinal++,
        category,
        src: srcPath,
        trg: trgPath,
        srcBbox: srcBox,
        trgBbox: trgBox,
        points,
        kpIds,
        flip: 0,
        flags: {
          viewpointVariation: flags.viewpointVariation ?? null,
          scaleVariation: flags.scaleVariation ?? null,
          truncation: flags.truncation ?? null,
          occlusion: flags.occlusion ?? null,
          mirror: flags.mirror ?? null,
        },
        origin,
      });
    }
  }

  return {
    format: 'spair',
    defaultName: 'SPair-71k',
    source: '',
    categories: categories.map((name, ordinal) => ({
      name,
      ordinal,
      keypoints: keypointDefs(Array.from({ length: kpCount.get(name) ?? 0 }, (_, k) => String(k))),
      skeleton: [],
    })),
    images,
    pairs,
    userAnnotations: false,
    deriveImageAnnotations: true,
  };
};

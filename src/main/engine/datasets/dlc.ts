/**
 * DeepLabCut projects: `config.yaml` and `labeled-data/<video>/CollectedData_<scorer>.csv`.
 *
 * config.yaml (optional; `--annotations` names it, default the folder's config.yaml): `Task` (the
 * category's name; default the folder's name), `scorer` (whose CSV to read when a folder holds
 * several), `bodyparts` (or, in multi-animal projects, `multianimalbodyparts` and
 * `uniquebodyparts`), `skeleton` (pairs of bodypart names) and `flip_pairs` (this workstation's
 * extension: symmetric pairs of bodypart names). Without config.yaml the bodyparts are the CSVs'.
 *
 * The CSV (DeepLabCut's own layout, as pandas writes its MultiIndex frame): header rows `scorer`,
 * `individuals` (multi-animal projects only), `bodyparts`, `coords` (x, y per bodypart), then one
 * row per labelled frame whose first column is the image's path, either as one column
 * (`labeled-data/<video>/img.png`, DeepLabCut before 2.2) or as three (`labeled-data`, `<video>`,
 * `img.png`). An empty or NaN cell is an absent keypoint; a labelled one is visible (DeepLabCut has
 * no visibility). Each individual is an annotation (instance) of the one category.
 *
 * Every image in labeled-data/<video>/ is imported, labelled or not (DeepLabCut's extracted
 * frames), except the `<video>_labeled` folders DeepLabCut's check_labels writes. The dataset is
 * stored as a 'coco' dataset keyed by config.yaml (or labeled-data/ when there is none).
 */
import fs from 'node:fs';
import path from 'node:path';
// The CSV is read with the RFC 4180 reader the benchmarks already use (csv.ts: quotes, CRLF, BOM, the
// line of every row for error messages) rather than csv-parse: one CSV reader in the engine.
import { parseCsv } from './csv.js';
import { isDir } from './fs-util.js';
import { flipPairsProblem } from './flip-pairs.js';
import { normalizeDatasetPath, relativePathProblem } from '../images/safe-path.js';
import { asRecord, fileLabel, findToolFile, keypointNamesProblem, listImages, readYaml } from './tool-files.js';
import { imageFor, keypointDefs, type ParsedDataset, type ParsedKeypoint, type Reader } from './types.js';

/** A cell DeepLabCut writes for an absent coordinate. */
const isMissing = (s: string) => s === '' || /^nan$/i.test(s);

/** Reads a list of [name, name] pairs from config.yaml as 0-based indices; throws naming the entry. */
function namePairs(v: unknown, names: readonly string[], key: string, fatal: (entry: string, reason: string) => Error): [number, number][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fatal(key, 'must be a list of [bodypart, bodypart] pairs');
  return v.map((e: unknown, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw fatal(`${key}[${i}]`, `must be a pair [bodypart, bodypart], got ${JSON.stringify(e)}`);
    const ix = e.map((n) => names.indexOf(String(n)));
    const unknown = e.find((_, j) => ix[j]! < 0);
    if (unknown !== undefined) throw fatal(`${key}[${i}]`, `unknown bodypart '${String(unknown)}' (the bodyparts are ${names.join(', ')})`);
    return [ix[0]!, ix[1]!] as [number, number];
  });
}

export const readDlc: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  const configPath = findToolFile(root, options.annotations, ['config.yaml']);
  const labeled = path.join(root, 'labeled-data');
  if (!isDir(labeled)) throw problems.fatal({ file: root }, 'has no labeled-data/ folder (is this a DeepLabCut project folder?)', 'NOT_FOUND');
  const configFile = configPath ? fileLabel(root, configPath) : null;
  const fatalIn = (entry: string, reason: string) => problems.fatal({ file: configFile ?? 'config.yaml', entry }, reason);
  const config = configPath ? asRecord(readYaml(configPath, configFile!)) : {};
  if (!config) throw problems.fatal({ file: configFile! }, 'the top level is not a mapping (is this a DeepLabCut config.yaml?)');

  const listOf = (key: string): string[] | null => {
    const v = config[key];
    if (v === undefined || v === null || v === 'MULTI!') return null;
    if (!Array.isArray(v) || !v.every((n) => typeof n === 'string' || typeof n === 'number')) throw fatalIn(key, 'must be a list of bodypart names');
    return v.map(String);
  };
  const multi = config.multianimalproject === true;
  const configured = multi ? [...(listOf('multianimalbodyparts') ?? []), ...(listOf('uniquebodyparts') ?? [])] : listOf('bodyparts');
  const category = typeof config.Task === 'string' && config.Task.trim() ? config.Task.trim() : path.basename(root);
  const scorer = typeof config.scorer === 'string' ? config.scorer : null;

  // the CSVs: one per video folder
  const videos = fs
    .readdirSync(labeled, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.endsWith('_labeled'))
    .map((e) => e.name)
    .sort();
  const csvs: { video: string; file: string }[] = [];
  for (const video of videos) {
    const found = fs.readdirSync(path.join(labeled, video)).filter((f) => /^CollectedData_.+\.csv$/.test(f));
    if (found.length === 0) continue;
    const pick = found.length === 1 ? found[0]! : found.find((f) => f === `CollectedData_${scorer}.csv`);
    if (!pick) throw problems.fatal({ file: `labeled-data/${video}` }, `holds ${found.join(', ')}; config.yaml's scorer${scorer ? ` '${scorer}'` : ''} says which to read`);
    csvs.push({ video, file: `labeled-data/${video}/${pick}` });
  }
  ctx.progress('scanning', 1, 1);

  let bodyparts: string[] | null = configured;
  const images: ParsedDataset['images'] = new Map();
  // every frame in the video folders, labelled or not
  for (const video of videos) for (const rel of listImages(path.join(labeled, video), false)) imageFor(images, `labeled-data/${video}/${rel}`, category, { file: `labeled-data/${video}/${rel}` });

  /** Image -> where its row is: a frame has one row over all the CSVs. */
  const listed = new Map<string, string>();
  let done = 0;
  for (const { file } of csvs) {
    await ctx.tick();
    ctx.progress('reading annotations', ++done, csvs.length);
    const rows = parseCsv(fs.readFileSync(path.join(root, ...file.split('/')), 'utf8'), file);
    const head = (name: string) => rows.findIndex((r, i) => i < 4 && r.fields[0] === name);
    const [iScorer, iInd, iParts, iCoords] = [head('scorer'), head('individuals'), head('bodyparts'), head('coords')];
    if (iScorer !== 0 || iParts < 0 || iCoords < 0) {
      throw problems.fatal({ file, entry: 'line 1' }, "the header must be rows 'scorer', ['individuals',] 'bodyparts', 'coords' (DeepLabCut's CSV layout)");
    }
    const coords = rows[iCoords]!.fields;
    const first = coords.findIndex((c, i) => i > 0 && c !== '');
    if (first < 1) throw problems.fatal({ file, entry: `line ${rows[iCoords]!.line}` }, "the 'coords' row names no x, y columns");
    const nIndex = first; // 1 (a path) or 3 (labeled-data, video, file)
    if (nIndex !== 1 && nIndex !== 3)
      throw problems.fatal({ file, entry: `line ${rows[iCoords]!.line}` }, `${nIndex} index columns before the coordinates; DeepLabCut writes 1 (the image path) or 3 (labeled-data, video, file)`);
    const parts = rows[iParts]!.fields;
    const inds = iInd >= 0 ? rows[iInd]!.fields : null;
    // columns: (individual, bodypart) -> x and y column
    const columns: { individual: string; bodypart: string; x: number; y: number }[] = [];
    for (let c = nIndex; c < coords.length; c++) {
      const coord = coords[c];
      const individual = inds ? (inds[c] ?? '') : '';
      const bodypart = parts[c] ?? '';
      if (coord === 'likelihood') continue; // machine labels: the confidence is not a label
      if (coord !== 'x' && coord !== 'y') throw problems.fatal({ file, entry: `line ${rows[iCoords]!.line}, column ${c + 1}` }, `coordinate '${coord}' is not x or y`);
      let col = columns.find((e) => e.individual === individual && e.bodypart === bodypart);
      if (!col) columns.push((col = { individual, bodypart, x: -1, y: -1 }));
      if (col[coord] >= 0)
        throw problems.fatal({ file, entry: `line ${rows[iCoords]!.line}, column ${c + 1}` }, `bodypart '${bodypart}'${individual ? ` of '${individual}'` : ''} has two ${coord} columns`);
      col[coord] = c;
    }
    const incomplete = columns.find((col) => col.x < 0 || col.y < 0);
    if (incomplete) throw problems.fatal({ file, entry: `line ${rows[iCoords]!.line}` }, `bodypart '${incomplete.bodypart}' has ${incomplete.x < 0 ? 'no x' : 'no y'} column`);
    if (!bodyparts) {
      bodyparts = [...new Set(columns.map((c) => c.bodypart))];
      const bad = keypointNamesProblem(bodyparts, category);
      if (bad) throw problems.fatal({ file, entry: `line ${rows[iParts]!.line}` }, bad);
    }
    const known = bodyparts;
    const unknown = columns.find((c) => !known.includes(c.bodypart));
    if (unknown) {
      throw problems.fatal({ file, entry: `line ${rows[iParts]!.line}` }, `unknown bodypart '${unknown.bodypart}' (${configFile ? `${configFile} lists` : 'the first CSV has'} ${known.join(', ')})`);
    }
    const individuals = [...new Set(columns.map((c) => c.individual))];
    const dataStart = Math.max(iScorer, iInd, iParts, iCoords) + 1;
    for (const row of rows.slice(dataStart)) {
      const at = { file, entry: `line ${row.line}` };
      const f = row.fields;
      if (f.every((c) => c === '')) continue;
      const raw = nIndex === 3 ? f.slice(0, 3).join('/') : (f[0] ?? '');
      const rel = normalizeDatasetPath(raw);
      const bad = relativePathProblem(rel);
      if (bad) {
        problems.invalid(at, `image path '${raw}' is refused: ${bad}`);
        continue;
      }
      if (f.length !== coords.length) {
        problems.invalid(at, `has ${f.length} columns; the header has ${coords.length}`);
        continue;
      }
      const first = listed.get(rel);
      if (first !== undefined) {
        problems.invalid(at, `image ${rel} is listed twice (first at ${first})`);
        continue;
      }
      listed.set(rel, `${file}: line ${row.line}`);
      const img = imageFor(images, rel, category, { file, entry: `line ${row.line}` });
      const anns: ParsedDataset['images'] extends Map<string, infer I> ? (I extends { annotations: (infer A)[] } ? A[] : never) : never = [];
      let problem: string | null = null;
      for (let i = 0; i < individuals.length && !problem; i++) {
        const keypoints: ParsedKeypoint[] = [];
        for (const col of columns.filter((c) => c.individual === individuals[i])) {
          const [sx, sy] = [f[col.x]!.trim(), f[col.y]!.trim()];
          const who = `bodypart '${col.bodypart}'${col.individual ? ` of '${col.individual}'` : ''}`;
          if (isMissing(sx) && isMissing(sy)) continue;
          if (isMissing(sx) || isMissing(sy)) {
            problem = `${who} has ${isMissing(sx) ? 'y but no x' : 'x but no y'}`;
            break;
          }
          const x = Number(sx);
          const y = Number(sy);
          if (!Number.isFinite(x) || !Number.isFinite(y)) {
            problem = `${who}: (${sx}, ${sy}) are not numbers`;
            break;
          }
          keypoints.push({ kp: known.indexOf(col.bodypart), x, y, visibility: 2 });
        }
        keypoints.sort((a, b) => a.kp - b.kp);
        if (keypoints.length > 0) anns.push({ category, instance: anns.length, bbox: null, keypoints, origin: at });
      }
      if (problem) {
        problems.invalid(at, problem);
        continue;
      }
      img.annotations.push(...anns);
    }
  }
  if (!bodyparts) throw problems.fatal({ file: configFile ?? 'labeled-data' }, 'names no bodyparts (config.yaml has no bodyparts and no CollectedData CSV was found)');
  const names = bodyparts;
  const bad = keypointNamesProblem(names, category);
  if (bad) throw fatalIn(multi ? 'multianimalbodyparts' : 'bodyparts', bad);
  const skeleton = namePairs(config.skeleton, names, 'skeleton', fatalIn);
  const flipPairs = namePairs(config.flip_pairs, names, 'flip_pairs', fatalIn);
  const pairProblem = flipPairsProblem(flipPairs, names.length, names);
  if (pairProblem) throw fatalIn('flip_pairs', pairProblem);
  if (images.size === 0) throw problems.fatal({ file: 'labeled-data' }, 'holds no images (looked in labeled-data/<video>/)');

  return {
    format: 'coco',
    defaultName: category,
    source: configPath ?? labeled,
    categories: [{ name: category, ordinal: 0, keypoints: keypointDefs(names), skeleton, flipPairs }],
    images,
    pairs: [],
    userAnnotations: false,
    deriveImageAnnotations: false,
  };
};

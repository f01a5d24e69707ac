/**
 * Dataset import: read a benchmark (or folder, or COCO file) straight from disk into the store.
 *
 *   scanning -> reading annotations -> checking images -> writing
 *
 * Everything is parsed and validated first (annotation files, every image fully decoded, keypoints
 * inside their images, declared sizes against real ones); any invalid entry stops the import
 * before the database is touched, unless `skipInvalid` turns such entries into skipped lines of
 * the report. Then one IMMEDIATE transaction on a dedicated connection writes it all: datasets,
 * categories, images, annotations and pairs are upserted by their natural keys (so a re-import of
 * the same root updates rows in place and keeps their ids) and rows that are no longer in the
 * source are removed. The write yields to the event loop between chunks (progress, cancellation,
 * a responsive UI); a cancellation, an error or a crash before COMMIT leaves the database exactly
 * as it was.
 */
import os from 'node:os';
import path from 'node:path';
import type { ImportReportInfo } from '../../contract/datasets.js';
import { AppError } from '../../shared/errors.js';
import type { Db, Store } from '../../store/db.js';
import { type Dataset, type DatasetFormat, DatasetsRepo, type Split } from '../../store/repositories/datasets.js';
import type { ImportFormat } from '../../engine/datasets/domain.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import { PairsRepo } from '../../store/repositories/pairs.js';
import { silentTask, type TaskContext } from '../../engine/jobs/progress.js';
import { type ImageProbe, ImageProblem, probeImage } from '../../engine/images/probe.js';
import { appliesExifOrientation, swapsAxes } from '../../engine/images/orientation.js';
import { realDir, resolveInsideRoot } from '../../engine/images/safe-path.js';
import { readCoco } from '../../engine/datasets/coco.js';
import { readFolder } from '../../engine/datasets/folder.js';
import { readPfPascal } from '../../engine/datasets/pfpascal.js';
import { readPfWillow } from '../../engine/datasets/pfwillow.js';
import { readSpair } from '../../engine/datasets/spair.js';
import { readYolo } from '../../engine/datasets/yolo.js';
import { readDlc } from '../../engine/datasets/dlc.js';
import { readLabelStudio } from '../../engine/datasets/labelstudio.js';
import { readCvat } from '../../engine/datasets/cvat.js';
import { MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { isFile, pathTextProblem, subdirectories } from '../../engine/datasets/fs-util.js';
import { CLI_WORDING, describeOrigin, type ImportWording, type ParsedDataset, type ParsedImage, Problems, type ReadContext, type Reader, type SkippedEntry } from '../../engine/datasets/types.js';
import { pool } from '../../shared/pool.js';

export interface ImportRequest {
  /** A stored kind, or an annotation tool's format (stored as 'coco', see engine/datasets/domain.ts). */
  format: ImportFormat;
  /** The dataset's folder as published (images and annotation files under it). */
  root: string;
  /** Dataset name (default: the benchmark's name, the folder's name, or the COCO file's name). */
  name?: string;
  /** COCO: the annotation JSON (default: annotations.json or the single .json in the root); the tools' formats: their file (see their readers). */
  annotations?: string;
  /** Folder: the new category's name (default: the folder's name). */
  category?: string;
  /** Leave invalid entries out (listed in the report) instead of failing. */
  skipInvalid?: boolean;
  /** Images checked in parallel (default: the number of cores, 2..4). */
  concurrency?: number;
  /** How hints in errors name the inputs: the CLI's flags (default) or the import dialog's fields. */
  wording?: ImportWording;
}

/** The report of an import; the API carries it as is, with `skipped` capped (ImportReportInfo). */
export interface ImportReport extends Omit<ImportReportInfo, 'skipped' | 'skippedTotal'> {
  skipped: SkippedEntry[];
}

export const STAGES = { scanning: 'scanning', reading: 'reading annotations', checking: 'checking images', writing: 'writing' } as const;

/** One reader per import format (the tools' readers produce 'coco' datasets). */
const READERS: Record<ImportFormat, Reader> = {
  spair: readSpair,
  pfpascal: readPfPascal,
  pfwillow: readPfWillow,
  folder: readFolder,
  coco: readCoco,
  yolo: readYolo,
  dlc: readDlc,
  labelstudio: readLabelStudio,
  cvat: readCvat,
};

/** Formats whose datasets are keyed by (format, root) alone: a name taken by another can be refused before reading. */
const KEYED_BY_ROOT: ReadonlySet<ImportFormat> = new Set<ImportFormat>(['spair', 'pfpascal', 'pfwillow', 'folder']);

/** Turns relative coordinates (ParsedDataset.relativeTo) into pixels of the measured images. */
function toPixels(parsed: ParsedDataset, probes: Map<string, ImageProbe>): void {
  const per = parsed.relativeTo;
  if (per === undefined) return;
  for (const img of parsed.images.values()) {
    const probe = probes.get(img.path);
    if (!probe) continue;
    const sx = probe.width / per;
    const sy = probe.height / per;
    for (const a of img.annotations) {
      for (const k of a.keypoints) {
        k.x *= sx;
        k.y *= sy;
      }
      if (a.bbox) a.bbox = [a.bbox[0] * sx, a.bbox[1] * sy, a.bbox[2] * sx, a.bbox[3] * sy];
    }
  }
}

/** Yields to the event loop when the current slice of synchronous work has run this long. */
const SLICE_MS = 20;

function makeTick(task: TaskContext): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      last = performance.now();
    }
    task.token.throwIfCancelled();
  };
}

function fmt(v: number): string {
  return String(v);
}

/**
 * Why a declared size that matches the other frame does not count: the dataset's format fixes
 * the frame (images/orientation.ts), so say which one and what the file's tag is.
 */
function frameHint(probe: ImageProbe, d: { width: number; height: number }, orient: boolean, format: DatasetFormat): string {
  if (!swapsAxes(probe.orientation)) return '';
  const other = orient ? { width: probe.storedWidth, height: probe.storedHeight } : { width: probe.height, height: probe.width };
  if (other.width !== d.width || other.height !== d.height) return '';
  return orient
    ? ` with its EXIF orientation ${probe.orientation} applied (${probe.storedWidth}x${probe.storedHeight} as stored); ${format} datasets use the displayed frame`
    : ` as stored (EXIF orientation ${probe.orientation} turns it to ${probe.height}x${probe.width} when displayed); ${format} datasets use the stored frame`;
}

/**
 * Checks every image (exists inside the root, decodes, declared sizes agree), sizes in the format's
 * frame. The paths of images that do not exist are added to `missing`.
 */
async function checkImages(parsed: ParsedDataset, ctx: ReadContext, concurrency: number, missing: string[]): Promise<Map<string, ImageProbe>> {
  const list = [...parsed.images.values()];
  const orient = appliesExifOrientation(parsed.format);
  const probes = new Map<string, ImageProbe>();
  let done = 0;
  ctx.progress(STAGES.checking, 0, list.length);
  await pool(list, concurrency, async (img) => {
    ctx.task.token.throwIfCancelled();
    const referenced = img.origin.file === img.path ? '' : ` (referenced by ${describeOrigin(img.origin)})`;
    try {
      const abs = resolveInsideRoot(ctx.root, img.path);
      const probe = await probeImage(abs, img.path, { orient });
      for (const d of img.declaredSizes ?? []) {
        if (d.width !== probe.width || d.height !== probe.height) {
          ctx.problems.invalid(d.origin, `says ${img.path} is ${d.width}x${d.height} but the image is ${probe.width}x${probe.height}${frameHint(probe, d, orient, parsed.format)}`);
          return;
        }
      }
      probes.set(img.path, probe);
    } catch (err) {
      if (err instanceof ImageProblem) ctx.problems.invalid({ file: img.path }, `${err.reason}${referenced}`, err.code);
      else if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'FORBIDDEN')) {
        if (err.code === 'NOT_FOUND') missing.push(img.path);
        ctx.problems.invalid(
          { file: img.path },
          `${err.code === 'NOT_FOUND' ? 'image file is missing' : 'image path leaves the dataset root'}${referenced}`,
          err.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'FORBIDDEN',
        );
      } else throw err;
    } finally {
      ctx.progress(STAGES.checking, ++done, list.length, img.path);
    }
  });
  return probes;
}

function inside(x: number, y: number, p: ImageProbe): boolean {
  return x >= 0 && y >= 0 && x <= p.width && y <= p.height;
}

/**
 * Drops what depends on a failed image, and checks every keypoint lies inside its image
 * (0 <= x <= width, 0 <= y <= height).
 */
async function checkGeometry(parsed: ParsedDataset, probes: Map<string, ImageProbe>, ctx: ReadContext): Promise<void> {
  for (const p of [...parsed.images.keys()]) {
    if (!probes.has(p)) parsed.images.delete(p);
  }
  const keep: typeof parsed.pairs = [];
  for (const pair of parsed.pairs) {
    await ctx.tick();
    const s = probes.get(pair.src);
    const t = probes.get(pair.trg);
    if (!s || !t) {
      if (ctx.problems.skipInvalid) ctx.problems.skip(pair.origin, `left out with its image ${!s ? pair.src : pair.trg}`);
      continue;
    }
    let bad: string | null = null;
    const n = pair.points.length / 4;
    for (let k = 0; k < n && !bad; k++) {
      const [sx, sy, tx, ty] = [pair.points[4 * k]!, pair.points[4 * k + 1]!, pair.points[4 * k + 2]!, pair.points[4 * k + 3]!];
      if (!inside(sx, sy, s)) bad = `keypoint ${k} (${fmt(sx)}, ${fmt(sy)}) lies outside the source image ${pair.src} (${s.width}x${s.height})`;
      else if (!inside(tx, ty, t)) bad = `keypoint ${k} (${fmt(tx)}, ${fmt(ty)}) lies outside the target image ${pair.trg} (${t.width}x${t.height})`;
    }
    if (bad) {
      ctx.problems.invalid(pair.origin, bad);
      continue;
    }
    keep.push(pair);
  }
  parsed.pairs = keep;
  const catByName = new Map(parsed.categories.map((c) => [c.name, c]));
  for (const img of parsed.images.values()) {
    const probe = probes.get(img.path)!;
    img.annotations = img.annotations.filter((a) => {
      for (const k of a.keypoints) {
        if (!inside(k.x, k.y, probe)) {
          const name = catByName.get(a.category)?.keypoints[k.kp]?.name ?? String(k.kp);
          ctx.problems.invalid(a.origin, `keypoint '${name}' (${fmt(k.x)}, ${fmt(k.y)}) lies outside the image ${img.path} (${probe.width}x${probe.height})`);
          return false;
        }
      }
      return true;
    });
  }
}

/** Sub-folders of the root tried as the place of missing images (a root with more is not a layout mistake). */
const HINT_SUBFOLDERS = 50;
/** Missing images looked up there. */
const HINT_SAMPLE = 20;

/**
 * Where images missing under the root seem to be instead: a sub-folder of the root (COCO JSON next
 * to an images/ folder its file_names leave out) or the root's parent (file_names that include the
 * chosen folder's own name), when most of a sample of them are there. The hint says which folder
 * to choose, in the caller's words; the import does not move its root by itself, because the root
 * is what the stored image paths are relative to and a re-import finds the dataset by.
 */
function missingImagesHint(root: string, missing: readonly string[], parsed: ParsedDataset, wording: ImportWording): string | null {
  if (missing.length === 0) return null;
  const sample = missing.slice(0, HINT_SAMPLE);
  let subs: string[] = [];
  try {
    subs = subdirectories(root).slice(0, HINT_SUBFOLDERS);
  } catch {
    // an unreadable root has no hint to give
  }
  const candidates = [...subs.map((d) => path.join(root, d)), path.dirname(root)].filter((d) => d !== root);
  let best: { dir: string; found: number } | null = null;
  for (const dir of candidates) {
    const found = sample.filter((rel) => isFile(path.join(dir, ...rel.split('/')))).length;
    if (found > (best?.found ?? 0)) best = { dir, found };
  }
  if (!best || best.found * 2 < sample.length) return null;
  return `The images seem to be in ${best.dir}${best.dir.endsWith(path.sep) ? '' : path.sep}: ${wording.useRoot(best.dir, parsed.source || null)}.`;
}

/** SPair / PF-Willow: each image's keypoints come from the pairs that use it (kp ids), boxes too. */
function deriveImageAnnotations(parsed: ParsedDataset, problems: Problems): void {
  const anns = new Map<string, ParsedImage['annotations'][number]>();
  const from = new Map<string, string>();
  for (const pair of parsed.pairs) {
    if (!pair.kpIds) continue;
    for (const side of [0, 1] as const) {
      const imgPath = side === 0 ? pair.src : pair.trg;
      const img = parsed.images.get(imgPath)!;
      const key = `${imgPath}\n${pair.category}`;
      let ann = anns.get(key);
      if (!ann) {
        ann = { category: pair.category, instance: 0, bbox: side === 0 ? pair.srcBbox : pair.trgBbox, keypoints: [], origin: pair.origin };
        anns.set(key, ann);
        img.annotations.push(ann);
      }
      for (let k = 0; k < pair.kpIds.length; k++) {
        const kp = pair.kpIds[k]!;
        const x = pair.points[4 * k + 2 * side]!;
        const y = pair.points[4 * k + 2 * side + 1]!;
        const existing = ann.keypoints.find((e) => e.kp === kp);
        if (!existing) {
          ann.keypoints.push({ kp, x, y, visibility: 2 });
          from.set(`${key}\n${kp}`, describeOrigin(pair.origin));
        } else if (Math.abs(existing.x - x) > 1e-6 || Math.abs(existing.y - y) > 1e-6) {
          problems.skip(
            pair.origin,
            `keypoint ${kp} of ${imgPath} is (${fmt(x)}, ${fmt(y)}) here but (${fmt(existing.x)}, ${fmt(existing.y)}) in ${from.get(`${key}\n${kp}`)}; the image keeps the first`,
          );
        }
      }
    }
  }
  for (const ann of anns.values()) ann.keypoints.sort((a, b) => a.kp - b.kp);
}

/** The dataset's name for a new import: the asked-for one (must be free) or the default, made unique. */
function chooseName(repo: DatasetsRepo, existing: Dataset | undefined, asked: string | undefined, fallback: string, wording: ImportWording): string {
  if (asked !== undefined) {
    const name = asked.trim();
    if (!name) throw new AppError('INVALID_ARGUMENT', 'the dataset name is empty');
    const other = repo.findByName(name);
    if (other && other.id !== existing?.id) {
      throw new AppError('CONFLICT', `a dataset named '${name}' already exists (id ${other.id}, ${other.format} at ${other.root}); ${wording.otherName}`);
    }
    return name;
  }
  if (existing) return existing.name;
  let name = fallback || 'dataset';
  for (let k = 2; repo.findByName(name); k++) name = `${fallback} (${k})`;
  return name;
}

interface WriteCounts {
  dataset: Dataset;
  created: boolean;
  removed: ImportReport['removed'];
}

/**
 * Writes the validated dataset in one transaction on `db` (already BEGIN IMMEDIATE). `knownIds`:
 * the datasets there were when the import started; one of this source that appeared since was
 * created by another import running at the same time (another window, another server on the same
 * database), and is not updated with this one's reading: the import fails with CONFLICT.
 */
async function writeAll(db: Db, parsed: ParsedDataset, probes: Map<string, ImageProbe>, root: string, req: ImportRequest, ctx: ReadContext, knownIds: ReadonlySet<number>): Promise<WriteCounts> {
  const datasets = new DatasetsRepo(db);
  const imagesRepo = new ImagesRepo(db);
  const pairsRepo = new PairsRepo(db);
  const existing = datasets.findByKey(parsed.format, root, parsed.source);
  if (existing && !knownIds.has(existing.id)) {
    throw new AppError(
      'CONFLICT',
      `another import created dataset '${existing.name}' (id ${existing.id}) from ${parsed.source || root} while this one was reading it; nothing was written by this one (import again to update that dataset)`,
    );
  }
  const name = chooseName(datasets, existing, req.name, parsed.defaultName, ctx.wording);
  const dataset = existing ?? datasets.create({ name, format: parsed.format, root, source: parsed.source });
  if (existing && existing.name !== name) datasets.rename(existing.id, name);

  const annotations = [...parsed.images.values()].reduce((n, i) => n + i.annotations.length, 0);
  const total = parsed.categories.length + parsed.images.size + annotations + parsed.pairs.length;
  let done = 0;
  const step = async () => {
    done++;
    if ((done & 63) === 0) {
      ctx.progress(STAGES.writing, done, total);
      await ctx.tick();
    }
  };
  ctx.progress(STAGES.writing, 0, total);

  const catIds = new Map<string, number>();
  for (const c of parsed.categories) {
    catIds.set(c.name, datasets.upsertCategory(dataset.id, c, parsed.userAnnotations));
    await step();
  }
  const imageIds = new Map<string, number>();
  for (const img of parsed.images.values()) {
    const p = probes.get(img.path)!;
    imageIds.set(
      img.path,
      imagesRepo.upsert(dataset.id, {
        path: img.path,
        categoryId: img.category === null ? null : (catIds.get(img.category) ?? null),
        width: p.width,
        height: p.height,
        format: p.format,
        bytes: p.bytes,
        sha256: p.sha256,
        externalId: img.externalId ?? null,
      }),
    );
    await step();
  }
  const keptAnnotations = new Set<number>();
  if (!parsed.userAnnotations) {
    for (const img of parsed.images.values()) {
      for (const a of img.annotations) {
        const id = imagesRepo.saveAnnotation({
          imageId: imageIds.get(img.path)!,
          categoryId: catIds.get(a.category)!,
          instance: a.instance,
          bbox: a.bbox,
          area: a.area ?? null,
          iscrowd: a.iscrowd ?? 0,
          externalId: a.externalId ?? null,
          keypoints: a.keypoints,
        });
        keptAnnotations.add(id);
        await step();
      }
    }
  }
  const keptPairs = new Set<number>();
  for (const p of parsed.pairs) {
    keptPairs.add(
      pairsRepo.upsert(dataset.id, {
        split: p.split,
        name: p.name,
        ordinal: p.ordinal,
        categoryId: catIds.get(p.category)!,
        srcImageId: imageIds.get(p.src)!,
        trgImageId: imageIds.get(p.trg)!,
        srcBbox: p.srcBbox,
        trgBbox: p.trgBbox,
        points: p.points,
        kpIds: p.kpIds,
        flip: p.flip,
        flags: p.flags,
      }),
    );
    await step();
  }

  // Whatever an earlier import of this root wrote and the source no longer has.
  const removed = { images: 0, pairs: 0, annotations: 0, categories: 0 };
  // Folder and COCO sources have no pairs: theirs were built in the workstation and stay (pairs
  // of images that are gone go with them).
  const sourceHasPairs = parsed.format !== 'folder' && parsed.format !== 'coco';
  for (const id of sourceHasPairs ? pairsRepo.ids(dataset.id) : []) {
    if (!keptPairs.has(id)) {
      pairsRepo.delete(id);
      removed.pairs++;
    }
  }
  if (!parsed.userAnnotations) {
    for (const id of imagesRepo.annotationIds(dataset.id)) {
      if (!keptAnnotations.has(id)) {
        imagesRepo.deleteAnnotation(id);
        removed.annotations++;
      }
    }
  }
  for (const [p, id] of imagesRepo.idsByPath(dataset.id)) {
    if (!imageIds.has(p)) {
      imagesRepo.delete(id);
      removed.images++;
    }
  }
  if (!parsed.userAnnotations) {
    for (const c of datasets.categories(dataset.id)) {
      if (!catIds.has(c.name)) {
        datasets.deleteCategory(c.id);
        removed.categories++;
      }
    }
  }
  ctx.progress(STAGES.writing, total, total);
  return { dataset: { ...dataset, name }, created: !existing, removed };
}

/**
 * Imports a dataset from its folder into the store; returns the report. Throws (having written
 * nothing) on invalid input, naming the file and entry; CancelledError when cancelled.
 */
export async function importDataset(store: Store, req: ImportRequest, task: TaskContext = silentTask()): Promise<ImportReport> {
  const reader = READERS[req.format];
  if (!reader) throw new AppError('INVALID_ARGUMENT', `unknown dataset format '${String(req.format)}' (one of ${Object.keys(READERS).join(', ')})`);
  for (const [what, p] of [
    ['the dataset root', req.root],
    ['the annotation file', req.annotations],
  ] as const) {
    const problem = p === undefined ? null : pathTextProblem(p);
    if (problem) throw new AppError('INVALID_ARGUMENT', `${what} is refused: ${problem}`);
  }
  const t0 = performance.now();
  const root = realDir(req.root, 'dataset root');
  const stageStart = new Map<string, number>();
  const wording = req.wording ?? CLI_WORDING;
  const problems = new Problems(req.skipInvalid ?? false, wording);
  const tick = makeTick(task);
  const ctx: ReadContext = {
    root,
    problems,
    wording,
    task,
    tick,
    progress(stage, done, total, detail) {
      if (!stageStart.has(stage)) stageStart.set(stage, performance.now());
      task.progress(detail === undefined ? { stage, done, total } : { stage, done, total, detail });
    },
  };

  // A name that is certainly taken fails now, not after reading everything (checked again when writing).
  // (COCO datasets are also keyed by their annotation file, known only once the reader ran.)
  if (req.name !== undefined && KEYED_BY_ROOT.has(req.format)) {
    const name = req.name.trim();
    const other = await store.read((db) => new DatasetsRepo(db).findByName(name));
    if (other && !(other.format === req.format && other.root === root)) {
      throw new AppError('CONFLICT', `a dataset named '${name}' already exists (id ${other.id}, ${other.format} at ${other.root}); ${wording.otherName}`);
    }
  }
  const knownIds = new Set(await store.read((db) => new DatasetsRepo(db).list().map((d) => d.id)));

  const parsed = await reader(ctx, { annotations: req.annotations, category: req.category });
  // Every reader checks its own keypoint lists, naming the entry; this holds whatever a reader missed.
  for (const c of parsed.categories) {
    if (c.keypoints.length > MAX_KEYPOINTS_PER_CATEGORY) {
      throw new AppError('DATASET_INVALID', `${parsed.source || root}: category '${c.name}' has ${c.keypoints.length} keypoints; at most ${MAX_KEYPOINTS_PER_CATEGORY} are allowed per category`);
    }
  }
  const concurrency = req.concurrency ?? Math.max(2, Math.min(4, os.availableParallelism()));
  const missing: string[] = [];
  const probes = await checkImages(parsed, ctx, concurrency, missing);
  toPixels(parsed, probes);
  await checkGeometry(parsed, probes, ctx);
  problems.hint = missingImagesHint(root, missing, parsed, wording);
  problems.throwIfErrors();
  if (parsed.deriveImageAnnotations) deriveImageAnnotations(parsed, problems);
  if (parsed.images.size === 0) throw new AppError('DATASET_INVALID', `${root}: nothing left to import (every entry was skipped)${problems.hint ? `. ${problems.hint}` : ''}`);

  const tWrite = performance.now();
  stageStart.set(STAGES.writing, tWrite);
  return store.writeLong(async (db) => {
    const counts = await writeAll(db, parsed, probes, root, req, ctx, knownIds);
    const report = buildReport(parsed, req.format, counts, root, problems, stageStart, t0);
    new DatasetsRepo(db).recordImport(counts.dataset.id, report);
    task.token.throwIfCancelled();
    return report;
  });
}

function buildReport(parsed: ParsedDataset, format: ImportFormat, counts: WriteCounts, root: string, problems: Problems, stageStart: Map<string, number>, t0: number): ImportReport {
  const pairsBySplit: Record<Split, number> = { trn: 0, val: 0, test: 0 };
  let pairPoints = 0;
  for (const p of parsed.pairs) {
    pairsBySplit[p.split]++;
    pairPoints += p.points.length / 4;
  }
  const anns = parsed.userAnnotations ? [] : [...parsed.images.values()].flatMap((i) => i.annotations);
  const end = performance.now();
  const at = (stage: string, fallback: number) => stageStart.get(stage) ?? fallback;
  const tRead = at(STAGES.reading, at(STAGES.checking, end));
  const tCheck = at(STAGES.checking, at(STAGES.writing, end));
  const tWrite = at(STAGES.writing, end);
  const sec = (ms: number) => Math.max(0, ms) / 1000;
  return {
    datasetId: counts.dataset.id,
    name: counts.dataset.name,
    // the format read (a YOLO import says yolo; the dataset itself is stored as coco)
    format,
    root,
    source: parsed.source,
    created: counts.created,
    images: parsed.images.size,
    categories: parsed.categories.length,
    annotations: anns.length,
    keypoints: anns.reduce((n, a) => n + a.keypoints.length, 0),
    pairs: parsed.pairs.length,
    pairsBySplit,
    pairPoints,
    removed: counts.removed,
    skipped: problems.skipped,
    seconds: {
      scanning: sec(tRead - t0),
      reading: sec(tCheck - tRead),
      checking: sec(tWrite - tCheck),
      writing: sec(end - tWrite),
      total: sec(end - t0),
    },
  };
}

/**
 * Pairs built from annotated images of one category, stored like benchmark pairs (points blob,
 * n_pts, kp_ids, split) so evaluation and training read them unchanged.
 *
 * Correspondences are the keypoints labelled on both images (by schema index, visible ones, plus
 * occluded ones when asked), source then target in original image pixels. A pair's name is
 * `<src id>-<trg id>:<category>`: building it again updates its correspondences in place, and a
 * pair lives in one split (building it into another moves it there). Boxes are the annotations'
 * boxes when they have one (otherwise PCK falls back to the image size).
 *
 * Planning (reads, checks, refuses impossible requests naming the field) is separate from writing
 * (one transaction on its own connection that yields to the event loop, with progress and
 * cancellation; a cancelled build writes nothing).
 */
import { AppError, FieldError } from '../../shared/errors.js';
import type { Db, Store } from '../../store/db.js';
import { type Category, type Dataset, DatasetsRepo, type Split } from '../../store/repositories/datasets.js';
import { type Box, ImagesRepo } from '../../store/repositories/images.js';
import { PairsRepo } from '../../store/repositories/pairs.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { NO_FLAGS } from '../../engine/datasets/types.js';

/** The most pairs one build may write. */
export const MAX_BUILD_PAIRS = 100_000;

export interface BuildPairsRequest {
  datasetId: number;
  categoryId: number;
  mode: 'all' | 'random' | 'manual';
  count?: number | undefined;
  seed: number;
  manual?: { src: number; trg: number }[] | undefined;
  split: Split;
  includeOccluded: boolean;
  minPoints: number;
}

interface AnnotatedImage {
  id: number;
  path: string;
  bbox: Box | null;
  /** kp -> [x, y] of the keypoints that count as correspondences. */
  kps: Map<number, [number, number]>;
}

export interface PlannedPair {
  src: AnnotatedImage;
  trg: AnnotatedImage;
  kpIds: number[];
}

export interface PairPlan {
  dataset: Dataset;
  category: Category;
  pairs: PlannedPair[];
  /** Candidate pairs left out for sharing fewer than `minPoints` keypoints. */
  skipped: number;
}

export interface BuildResult {
  created: number;
  updated: number;
  /** Pairs that were in another split and moved to this one. */
  moved: number;
  split: Split;
}

/** Annotated images of a category (instance 0), in path order. */
function annotatedImages(db: Db, datasetId: number, categoryId: number, includeOccluded: boolean): AnnotatedImage[] {
  const rows = new ImagesRepo(db).keypointRowsOfCategory(datasetId, categoryId);
  const out: AnnotatedImage[] = [];
  let cur: AnnotatedImage | null = null;
  for (const r of rows) {
    if (!cur || cur.id !== r.id) {
      cur = { id: r.id, path: r.path, bbox: r.bbox_x1 === null ? null : [r.bbox_x1, r.bbox_y1!, r.bbox_x2!, r.bbox_y2!], kps: new Map() };
      out.push(cur);
    }
    if (r.visibility === 2 || includeOccluded) cur.kps.set(r.kp, [r.x, r.y]);
  }
  return out.filter((img) => img.kps.size > 0);
}

function common(a: AnnotatedImage, b: AnnotatedImage): number[] {
  const ids: number[] = [];
  for (const kp of a.kps.keys()) if (b.kps.has(kp)) ids.push(kp);
  return ids.sort((x, y) => x - y);
}

/** mulberry32: a small seeded generator (reproducible random selections). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const n = (v: number) => v.toLocaleString('en-US');

/** Checks the request against the store and lists the pairs to write. */
export function planPairs(db: Db, req: BuildPairsRequest): PairPlan {
  const datasets = new DatasetsRepo(db);
  const dataset = datasets.find(req.datasetId);
  if (!dataset) throw new AppError('NOT_FOUND', `no dataset with id ${req.datasetId}`);
  const category = datasets.category(req.categoryId);
  if (!category || category.datasetId !== dataset.id) throw new FieldError('NOT_FOUND', 'categoryId', `dataset '${dataset.name}' has no category with id ${req.categoryId}`);
  const images = annotatedImages(db, dataset.id, category.id, req.includeOccluded);
  const what = req.includeOccluded ? 'labelled' : 'visible';
  if (images.length < 2 && req.mode !== 'manual') {
    throw new FieldError('INVALID_ARGUMENT', 'categoryId', `'${category.name}' has ${images.length} image${images.length === 1 ? '' : 's'} with ${what} keypoints; a pair needs two`);
  }
  const pairs: PlannedPair[] = [];
  let skipped = 0;
  const consider = (a: AnnotatedImage, b: AnnotatedImage): boolean => {
    const kpIds = common(a, b);
    if (kpIds.length < req.minPoints) {
      skipped++;
      return false;
    }
    pairs.push({ src: a, trg: b, kpIds });
    return true;
  };

  if (req.mode === 'all') {
    const total = (images.length * (images.length - 1)) / 2;
    if (total > MAX_BUILD_PAIRS) {
      throw new FieldError('INVALID_ARGUMENT', 'mode', `all pairs of ${n(images.length)} annotated images would be ${n(total)} pairs, more than ${n(MAX_BUILD_PAIRS)}; build N random pairs instead`);
    }
    for (let i = 0; i < images.length; i++) for (let j = i + 1; j < images.length; j++) consider(images[i]!, images[j]!);
  } else if (req.mode === 'random') {
    if (req.count === undefined) throw new FieldError('INVALID_ARGUMENT', 'count', 'how many random pairs? enter a number');
    const random = rng(req.seed);
    const total = (images.length * (images.length - 1)) / 2;
    if (total <= 4 * MAX_BUILD_PAIRS) {
      // Few enough to enumerate: a seeded partial shuffle of every candidate.
      const all: [number, number][] = [];
      for (let i = 0; i < images.length; i++) for (let j = i + 1; j < images.length; j++) all.push([i, j]);
      for (let k = 0; k < all.length && pairs.length < req.count; k++) {
        const r = k + Math.floor(random() * (all.length - k));
        [all[k], all[r]] = [all[r]!, all[k]!];
        consider(images[all[k]![0]]!, images[all[k]![1]]!);
      }
    } else {
      // Too many to list: draw until enough distinct pairs (or attempts) are found.
      const seen = new Set<number>();
      for (let attempt = 0; attempt < req.count * 20 && pairs.length < req.count; attempt++) {
        let i = Math.floor(random() * images.length);
        let j = Math.floor(random() * images.length);
        if (i === j) continue;
        if (i > j) [i, j] = [j, i];
        const key = i * images.length + j;
        if (seen.has(key)) continue;
        seen.add(key);
        consider(images[i]!, images[j]!);
      }
    }
  } else {
    const list = req.manual ?? [];
    if (list.length === 0) throw new FieldError('INVALID_ARGUMENT', 'manual', 'choose a source and a target image');
    const byId = new Map(images.map((img) => [img.id, img]));
    const seen = new Set<string>();
    list.forEach((m, i) => {
      const which = list.length === 1 ? 'the pair' : `pair ${i + 1}`;
      if (m.src === m.trg) throw new FieldError('INVALID_ARGUMENT', 'manual', `${which}: source and target are the same image`);
      const a = byId.get(m.src);
      const b = byId.get(m.trg);
      if (!a || !b) throw new FieldError('INVALID_ARGUMENT', 'manual', `${which}: image ${!a ? m.src : m.trg} has no ${what} keypoints of '${category.name}'`);
      const key = `${m.src}-${m.trg}`;
      if (seen.has(key)) return;
      seen.add(key);
      if (!consider(a, b)) {
        throw new FieldError('INVALID_ARGUMENT', 'manual', `${which}: ${a.path} and ${b.path} share ${common(a, b).length} ${what} keypoint(s); at least ${req.minPoints} needed`);
      }
    });
  }
  if (pairs.length === 0) {
    throw new FieldError('INVALID_ARGUMENT', 'minPoints', `no pair of annotated '${category.name}' images shares ${req.minPoints} or more ${what} keypoints`);
  }
  return { dataset, category, pairs, skipped };
}

export function pairName(src: number, trg: number, category: string): string {
  return `${src}-${trg}:${category}`;
}

/** Yields to the event loop when a slice of synchronous work has run this long. */
const SLICE_MS = 20;

/** Writes a plan in one transaction on its own connection (see the module comment). */
export async function writePairs(store: Store, plan: PairPlan, split: Split, task: TaskContext): Promise<BuildResult> {
  return store.writeLong(async (db) => {
    const repo = new PairsRepo(db);
    let ordinal = repo.maxOrdinal(plan.dataset.id, split);
    const result: BuildResult = { created: 0, updated: 0, moved: 0, split };
    const total = plan.pairs.length;
    let last = performance.now();
    task.progress({ stage: 'writing pairs', done: 0, total });
    for (let i = 0; i < total; i++) {
      const p = plan.pairs[i]!;
      const name = pairName(p.src.id, p.trg.id, plan.category.name);
      const existing = repo.findByName(plan.dataset.id, split, name);
      for (const other of ['trn', 'val', 'test'] as const) {
        if (other === split) continue;
        const elsewhere = repo.findByName(plan.dataset.id, other, name);
        if (elsewhere) {
          repo.delete(elsewhere.id);
          result.moved++;
        }
      }
      const points = new Float64Array(4 * p.kpIds.length);
      p.kpIds.forEach((kp, r) => {
        const [sx, sy] = p.src.kps.get(kp)!;
        const [tx, ty] = p.trg.kps.get(kp)!;
        points.set([sx, sy, tx, ty], 4 * r);
      });
      repo.upsert(plan.dataset.id, {
        split,
        name,
        // an existing pair keeps its place in the list
        ordinal: existing ? repo.ordinalOf(existing.id)! : ++ordinal,
        categoryId: plan.category.id,
        srcImageId: p.src.id,
        trgImageId: p.trg.id,
        srcBbox: p.src.bbox,
        trgBbox: p.trg.bbox,
        points,
        kpIds: p.kpIds,
        flip: 0,
        flags: NO_FLAGS,
      });
      if (existing) result.updated++;
      else result.created++;
      if (performance.now() - last > SLICE_MS) {
        task.progress({ stage: 'writing pairs', done: i + 1, total });
        await new Promise<void>((resolve) => setImmediate(resolve));
        last = performance.now();
      }
      task.token.throwIfCancelled();
    }
    task.progress({ stage: 'writing pairs', done: total, total });
    return result;
  });
}

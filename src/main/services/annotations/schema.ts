/**
 * A category's keypoint schema as the annotation UI edits it: ordered names with colours and an
 * optional skeleton. The whole schema is checked before anything is written; then labelled
 * keypoints, the undo history, pair correspondences and pending suggestions follow the new
 * numbering (entries carry `from`, their index in the old schema), and points of deleted entries
 * go with them.
 */
import { AppError, FieldError } from '../../shared/errors.js';
import { MAX_KEYPOINT_NAME_LENGTH } from '../../shared/limits.js';
import type { Db } from '../../store/db.js';
import { AnnotationHistoryRepo } from '../../store/repositories/annotation-history.js';
import { type Category, DatasetsRepo, type KeypointDef } from '../../store/repositories/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import { decodePoints, PairsRepo } from '../../store/repositories/pairs.js';
import { SuggestionsRepo } from '../../store/repositories/suggestions.js';
import { EDITABLE_FORMATS } from './editor.js';
import { remapFlipPairs } from '../../engine/datasets/flip-pairs.js';

export interface SchemaEntry {
  name: string;
  color: string;
  /** Index of this entry in the current schema; null for a new keypoint. */
  from: number | null;
}

export interface SchemaResult {
  category: Category;
  renumbered: number;
  removed: number;
  pairs: number;
}

const COLOR = /^#[0-9a-fA-F]{6}$/;
/** The editor's name limit is the importers' too. */
export const MAX_NAME_LENGTH = MAX_KEYPOINT_NAME_LENGTH;

/** Checks names, colours, `from` indices, the skeleton and the symmetric pairs; returns the cleaned schema. */
export function checkSchema(
  entries: readonly SchemaEntry[],
  skeleton: readonly (readonly [number, number])[],
  previousLength: number,
  flipPairs: readonly (readonly [number, number])[] = [],
): { keypoints: KeypointDef[]; skeleton: [number, number][]; flipPairs: [number, number][]; from: (number | null)[] } {
  const keypoints: KeypointDef[] = [];
  const byName = new Map<string, number>();
  const fromSeen = new Map<number, number>();
  entries.forEach((e, i) => {
    const name = e.name.trim();
    const field = `keypoints.${i}.name`;
    if (!name) throw new FieldError('INVALID_ARGUMENT', field, `keypoint ${i + 1} has no name`);
    if (name.length > MAX_NAME_LENGTH) throw new FieldError('INVALID_ARGUMENT', field, `keypoint ${i + 1}'s name is longer than ${MAX_NAME_LENGTH} characters`);
    const folded = name.toLowerCase();
    const twin = byName.get(folded);
    if (twin !== undefined) throw new FieldError('INVALID_ARGUMENT', field, `keypoints ${twin + 1} and ${i + 1} are both named '${name}'; names must be unique`);
    byName.set(folded, i);
    if (!COLOR.test(e.color)) throw new FieldError('INVALID_ARGUMENT', `keypoints.${i}.color`, `keypoint '${name}' has colour '${e.color}'; use #rrggbb`);
    if (e.from !== null) {
      if (e.from >= previousLength) throw new FieldError('INVALID_ARGUMENT', `keypoints.${i}`, `keypoint '${name}' refers to entry ${e.from} of a schema with ${previousLength} entries`);
      const other = fromSeen.get(e.from);
      if (other !== undefined) throw new FieldError('INVALID_ARGUMENT', `keypoints.${i}`, `keypoints ${other + 1} and ${i + 1} both claim the same existing keypoint`);
      fromSeen.set(e.from, i);
    }
    keypoints.push({ name, color: e.color.toLowerCase() });
  });
  const edges: [number, number][] = [];
  const seenEdges = new Set<string>();
  skeleton.forEach(([a, b], i) => {
    const field = `skeleton.${i}`;
    if (a >= keypoints.length || b >= keypoints.length) throw new FieldError('INVALID_ARGUMENT', field, `skeleton edge ${i + 1} [${a}, ${b}] does not join two of the ${keypoints.length} keypoints`);
    if (a === b) throw new FieldError('INVALID_ARGUMENT', field, `skeleton edge ${i + 1} joins '${keypoints[a]!.name}' to itself`);
    const k = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (seenEdges.has(k)) throw new FieldError('INVALID_ARGUMENT', field, `skeleton edge ${i + 1} ('${keypoints[a]!.name}' - '${keypoints[b]!.name}') is listed twice`);
    seenEdges.add(k);
    edges.push([a, b]);
  });
  const pairs: [number, number][] = [];
  const partner = new Map<number, number>();
  flipPairs.forEach(([a, b], i) => {
    const field = `flipPairs.${i}`;
    if (a >= keypoints.length || b >= keypoints.length) throw new FieldError('INVALID_ARGUMENT', field, `symmetric pair ${i + 1} [${a}, ${b}] does not join two of the ${keypoints.length} keypoints`);
    if (a === b) throw new FieldError('INVALID_ARGUMENT', field, `symmetric pair ${i + 1} pairs '${keypoints[a]!.name}' with itself; a keypoint on the symmetry axis needs no pair`);
    for (const k of [a, b]) {
      const other = partner.get(k);
      if (other !== undefined) throw new FieldError('INVALID_ARGUMENT', field, `'${keypoints[k]!.name}' is in symmetric pairs ${other + 1} and ${i + 1}; a keypoint has one mirror partner at most`);
      partner.set(k, i);
    }
    pairs.push(a < b ? [a, b] : [b, a]);
  });
  return { keypoints, skeleton: edges, flipPairs: pairs.sort((x, y) => x[0] - y[0]), from: entries.map((e) => e.from) };
}

/** Old index -> new index (or null when deleted), and whether anything moves at all. */
function mapping(previousLength: number, from: readonly (number | null)[]): { map: (number | null)[]; identity: boolean } {
  const map: (number | null)[] = Array.from({ length: previousLength }, () => null);
  from.forEach((f, i) => {
    if (f !== null) map[f] = i;
  });
  return { map, identity: map.every((m, i) => m === i) };
}

/** Replaces a category's schema in the caller's write transaction. */
export function setSchema(
  db: Db,
  categoryId: number,
  entries: readonly SchemaEntry[],
  skeleton: readonly (readonly [number, number])[],
  flipPairs?: readonly (readonly [number, number])[],
): SchemaResult {
  const datasets = new DatasetsRepo(db);
  const category = datasets.category(categoryId);
  if (!category) throw new AppError('NOT_FOUND', `no category with id ${categoryId}`);
  const dataset = datasets.find(category.datasetId)!;
  if (!EDITABLE_FORMATS.has(dataset.format)) {
    throw new AppError('FORBIDDEN', `'${dataset.name}' is a ${dataset.format} benchmark: its keypoint schema comes from its annotation files and is read-only here`);
  }
  const from = entries.map((e) => e.from);
  const { map, identity } = mapping(category.keypoints.length, from);
  // pairs not given follow the edit (a client that does not know them loses none)
  const checked = checkSchema(entries, skeleton, category.keypoints.length, flipPairs ?? remapFlipPairs(category.flipPairs, map));
  let renumbered = 0;
  let removed = 0;
  let pairs = 0;
  if (!identity) {
    const images = new ImagesRepo(db);
    const remap = <K extends { kp: number }>(list: readonly K[]): K[] =>
      list
        .flatMap((k) => {
          const to = map[k.kp] ?? null;
          return to === null ? [] : [{ ...k, kp: to }];
        })
        .sort((a, b) => a.kp - b.kp);
    for (const id of images.annotationIdsOfCategory(categoryId)) {
      const before = images.keypointsOf(id);
      const after = remap(before);
      removed += before.length - after.length;
      renumbered += before.filter((b) => map[b.kp] !== null && map[b.kp] !== b.kp).length;
      images.replaceKeypoints(id, after);
    }
    const history = new AnnotationHistoryRepo(db);
    for (const e of history.entriesOfCategory(categoryId)) history.replaceEntry(e, e.seq, remap(e.keypoints));
    const suggestions = new SuggestionsRepo(db);
    for (const set of suggestions.listForCategory(categoryId)) suggestions.setKeypoints(set.id, remap(set.keypoints));
    const pairRepo = new PairsRepo(db);
    for (const p of pairRepo.pointsOfCategory(categoryId)) {
      if (p.kpIds === null) continue;
      const { src, trg } = decodePoints(p.points, p.nPts);
      const rows: number[] = [];
      const ids: number[] = [];
      p.kpIds.forEach((kp, r) => {
        const to = map[kp] ?? null;
        if (to === null) return;
        ids.push(to);
        rows.push(src[2 * r]!, src[2 * r + 1]!, trg[2 * r]!, trg[2 * r + 1]!);
      });
      if (ids.length === p.kpIds.length && ids.every((k, i) => k === p.kpIds![i])) continue;
      pairRepo.setPoints(p.id, Float64Array.from(rows), ids);
      pairs++;
    }
  }
  datasets.setKeypointSchema(categoryId, checked.keypoints, checked.skeleton, checked.flipPairs);
  return { category: datasets.category(categoryId)!, renumbered, removed, pairs };
}

/**
 * What the annotation tools' readers (yolo.ts, dlc.ts, ...) share: finding the tool's file in the
 * dataset folder, reading YAML with the line of a syntax error, listing a folder's images, and
 * names checked against the schema editor's limits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { AppError } from '../../shared/errors.js';
import { MAX_KEYPOINT_NAME_LENGTH, MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { IMAGE_EXTENSIONS } from '../images/probe.js';
import { isInside } from '../images/safe-path.js';
import { isFile, lineColumn } from './fs-util.js';

/** The tool's file: the one named (must exist), else the first of `defaults` (relative to the root) that exists, else null. */
export function findToolFile(root: string, option: string | undefined, defaults: readonly string[]): string | null {
  if (option) {
    const abs = path.resolve(option);
    if (!isFile(abs)) throw new AppError('NOT_FOUND', `annotation file ${abs} does not exist`);
    return fs.realpathSync(abs);
  }
  for (const d of defaults) {
    const abs = path.join(root, d);
    if (isFile(abs)) return abs;
  }
  return null;
}

/** How a file is named in errors: relative to the root when inside it, else absolute. */
export function fileLabel(root: string, abs: string): string {
  return isInside(root, abs) ? path.relative(root, abs).split(path.sep).join('/') : abs;
}

/** Parses a YAML file; a syntax error is reported with its line. Returns the plain value. */
export function readYaml(abs: string, label: string): unknown {
  const text = fs.readFileSync(abs, 'utf8');
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const line = lineColumn(text, err.pos[0]).line;
    throw new AppError('DATASET_INVALID', `${label}: line ${line}: not valid YAML (${err.message.split('\n')[0]})`);
  }
  return doc.toJS();
}

/** A YAML/JSON value as a plain object (null: it is not one). */
export function asRecord(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Image files under `dir` (absolute), recursively, hidden entries skipped, sorted; '/'-joined paths relative to `dir`. */
export function listImages(dir: string, recursive = true): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = rel ? path.join(dir, ...rel.split('/')) : dir;
    const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (recursive) walk(r);
      } else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(r);
    }
  };
  walk('');
  return out;
}

/** Why a list of keypoint names cannot be a schema (null: it can). */
export function keypointNamesProblem(names: readonly string[], category: string): string | null {
  if (names.length > MAX_KEYPOINTS_PER_CATEGORY) return `category '${category}' has ${names.length} keypoints; at most ${MAX_KEYPOINTS_PER_CATEGORY} are allowed per category`;
  const seen = new Set<string>();
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (!n.trim()) return `keypoint ${i + 1} of category '${category}' has an empty name`;
    if (n.length > MAX_KEYPOINT_NAME_LENGTH) return `keypoint ${i + 1} of category '${category}' has a name of ${n.length} characters; at most ${MAX_KEYPOINT_NAME_LENGTH} are allowed`;
    if (seen.has(n)) return `keypoint name '${n}' appears twice in category '${category}'`;
    seen.add(n);
  }
  return null;
}

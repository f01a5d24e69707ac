/**
 * What the Label Studio and CVAT readers and writers share (labelstudio.ts, cvat.ts): the export
 * model they write from, finding their annotation file, resolving the image paths a tool wrote to
 * files under the dataset root, and XML (fast-xml-parser) read into a small tree, and escaping.
 */
import fs from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AppError } from '../../shared/errors.js';
import type { Box, KeypointDef } from './domain.js';
import { isDir, isFile } from './fs-util.js';
import { normalizeDatasetPath, relativePathProblem } from '../images/safe-path.js';
import type { ImportWording } from './types.js';

/** A keypoint schema as the tool writers need it (indices 0-based). */
export interface ToolExportCategory {
  name: string;
  keypoints: KeypointDef[];
  skeleton: [number, number][];
  flipPairs: [number, number][];
}

/** One object (an instance of a category) on an image. */
export interface ToolExportAnnotation {
  category: string;
  instance: number;
  bbox: Box | null;
  keypoints: { kp: number; x: number; y: number; visibility: 1 | 2 }[];
}

export interface ToolExportImage {
  /** Where the image is in the export ('/' separators). */
  path: string;
  width: number;
  height: number;
  annotations: ToolExportAnnotation[];
}

/** A dataset's schemas and image-level annotations, in the order they are written. */
export interface ToolExportModel {
  name: string;
  categories: ToolExportCategory[];
  images: ToolExportImage[];
}

/**
 * Picks the annotation file: the option, else the first of `defaults` in the root, else the only
 * file with extension `ext` in the root or root/annotations.
 */
export function findAnnotationFile(root: string, option: string | undefined, ext: string, defaults: string[], what: string, wording: ImportWording): string {
  if (option) {
    const abs = path.resolve(option);
    if (!isFile(abs)) throw new AppError('NOT_FOUND', `annotation file ${abs} does not exist`);
    return fs.realpathSync(abs);
  }
  const hint = wording.nameAnnotations.replace('the COCO file', `the ${what} file`);
  for (const name of defaults) if (isFile(path.join(root, name))) return path.join(root, name);
  for (const dir of [root, path.join(root, 'annotations')]) {
    if (!isDir(dir)) continue;
    const found = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith(ext) && !f.startsWith('.') && isFile(path.join(dir, f)));
    if (found.length === 1) return path.join(dir, found[0]!);
    if (found.length > 1) throw new AppError('INVALID_ARGUMENT', `${dir} holds ${found.length} ${ext} files (${found.slice(0, 5).join(', ')}${found.length > 5 ? ', ...' : ''}); ${hint}`);
  }
  throw new AppError('NOT_FOUND', `no ${what} file in ${root} (looked for ${defaults.join(', ')} and a single ${ext} file in the root or annotations/); ${hint}`);
}

/** How errors name a file: relative to the root when inside it, else absolute. */
export function displayName(root: string, file: string): string {
  const rel = path.relative(root, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}

/**
 * The file under `root` an image reference a tool wrote names: the path itself when it is a file
 * there, or under `images/` (CVAT's export layout, and this workstation's), else the longest tail
 * of it that is (a tool's own folder prefix, an upload folder), there or under `images/`. `extra`
 * are further candidates tried last (a tool's renamed upload). Returns the dataset-relative path,
 * or why none was found.
 */
export function resolveToolImage(root: string, ref: string, extra: string[] = []): { path: string } | { problem: string } {
  const segs = normalizeDatasetPath(ref)
    .split('/')
    .filter((s) => s !== '..');
  const candidates: string[] = [];
  for (let i = 0; i < segs.length; i++) candidates.push(segs.slice(i).join('/'));
  for (const e of extra) candidates.push(normalizeDatasetPath(e));
  const tried = candidates.flatMap((c) => [c, `images/${c}`]);
  for (const c of tried) {
    if (relativePathProblem(c)) continue;
    if (isFile(path.join(root, ...c.split('/')))) return { path: c };
  }
  return { problem: `no file under the dataset root matches '${ref}' (tried ${[...new Set(tried)].slice(0, 4).join(', ')}${tried.length > 4 ? ', ...' : ''})` };
}

/** Text for an XML attribute value or element content. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A coordinate as written: the shortest text that reads back to the same double. */
export function num(v: number): string {
  return String(v);
}

/** An XML element, simplified: attributes, child elements in order, text content, comments. */
export interface XmlNode {
  tag: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** The element's own text (trimmed, children's text left out). */
  text: string;
  comments: string[];
}

/** Parses XML text (fast-xml-parser), or says where it is malformed. */
export function parseXml(text: string): { root: XmlNode } | { problem: string } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const valid = XMLValidator.validate(body, { allowBooleanAttributes: true });
  if (valid !== true) return { problem: `malformed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})` };
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    allowBooleanAttributes: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    commentPropName: '#comment',
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  const doc = parser.parse(body) as unknown[];
  const top = convert({ tag: '#document', attrs: {}, children: [], text: '', comments: [] }, doc);
  const root = top.children[0];
  if (!root || top.children.length !== 1) return { problem: 'malformed XML: the document must have exactly one top-level element' };
  root.comments.unshift(...top.comments);
  return { root };
}

function convert(into: XmlNode, items: unknown[]): XmlNode {
  for (const item of items) {
    const o = item as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (key === ':@') continue;
      const v = o[key];
      if (key === '#text') into.text += String(v);
      else if (key === '#comment') {
        for (const c of v as { '#text'?: unknown }[]) into.comments.push(String(c['#text'] ?? ''));
      } else {
        const attrs: Record<string, string> = {};
        for (const [a, av] of Object.entries((o[':@'] as Record<string, unknown> | undefined) ?? {})) attrs[a] = av === true ? '' : String(av);
        into.children.push(convert({ tag: key, attrs, children: [], text: '', comments: [] }, (v as unknown[]) ?? []));
      }
    }
  }
  return into;
}

/** Child elements named `tag` (case-insensitive when asked: Label Studio's tag names are). */
export function childrenNamed(node: XmlNode, tag: string, ignoreCase = false): XmlNode[] {
  const want = ignoreCase ? tag.toLowerCase() : tag;
  return node.children.filter((c) => (ignoreCase ? c.tag.toLowerCase() : c.tag) === want);
}

/** Every element named `tag` below `node`, in document order. */
export function descendantsNamed(node: XmlNode, tag: string, ignoreCase = false): XmlNode[] {
  const out: XmlNode[] = [];
  const want = ignoreCase ? tag.toLowerCase() : tag;
  const walk = (n: XmlNode) => {
    for (const c of n.children) {
      if ((ignoreCase ? c.tag.toLowerCase() : c.tag) === want) out.push(c);
      walk(c);
    }
  };
  walk(node);
  return out;
}

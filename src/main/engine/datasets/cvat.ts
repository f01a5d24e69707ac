/**
 * CVAT for images 1.1 (XML), keypoints both ways (docs/formats.md, "CVAT").
 *
 * Import reads `annotations.xml`: `<meta>` (of a task, project or job) lists the labels; a label
 * of type `skeleton` is a category whose keypoints are its sublabels (the labels whose `<parent>`
 * is the skeleton, in order; else the `<circle data-label-name>` nodes of its `<svg>`), and the
 * `<line data-node-from data-node-to>` of the svg are its skeleton edges. Each `<image name width
 * height>` holds shapes: a `<skeleton label>` is one object, its `<points label="kp" points="x,y"
 * outside occluded>` elements its keypoints (outside="1": absent; occluded="1": visibility 1; else
 * 2). A label of type `points` (or any label with no sublabels used by `<points>` shapes) is a
 * category whose keypoints are the points of each shape, in order, named '1', '2', ... (CVAT's
 * points have no names; every shape of the label must have the same number). A `<box>` sharing a
 * `group_id` with a skeleton or points shape is that object's box; other boxes, polygons, tags and
 * tracks are left out. Image names are paths under the dataset root, or under its
 * images/ folder (CVAT's export layout).
 *
 * Symmetric pairs have no place in CVAT; this workstation writes them inside the skeleton label
 * as `<sd4match_flip_pairs>` (a JSON list of [name, name]), which CVAT ignores, and reads them
 * back. Keypoint colours are the sublabels' `<color>`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAX_KEYPOINT_NAME_LENGTH, MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { defaultKeypointColor } from './domain.js';
import { flipPairsProblem } from './flip-pairs.js';
import { childrenNamed, displayName, escapeXml, findAnnotationFile, num, parseXml, resolveToolImage, type ToolExportModel, type XmlNode } from './tool-xml.js';
import { declareSize, imageFor, type Origin, type ParsedAnnotation, type ParsedCategory, type ParsedDataset, type Reader } from './types.js';

const FLIP_TAG = 'sd4match_flip_pairs';

function child(node: XmlNode, tag: string): XmlNode | undefined {
  return childrenNamed(node, tag)[0];
}

function childText(node: XmlNode, tag: string): string | undefined {
  return child(node, tag)?.text;
}

/**
 * The svg of a skeleton label: circles at the keypoints' places on a unit square (so that CVAT's
 * skeleton editor shows them apart), lines for the edges. Node ids are 1-based keypoint indices.
 */
function skeletonSvg(names: string[], edges: [number, number][]): string {
  const n = names.length;
  const at = (k: number) => {
    const a = (2 * Math.PI * k) / Math.max(n, 1);
    return [Number((50 + 40 * Math.cos(a)).toFixed(3)), Number((50 + 40 * Math.sin(a)).toFixed(3))];
  };
  const lines = edges.map(([a, b]) => {
    const [x1, y1] = at(a);
    const [x2, y2] = at(b);
    return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="black" data-type="edge" data-node-from="${a + 1}" stroke-width="0.5" data-node-to="${b + 1}"></line>`;
  });
  const circles = names.map((name, k) => {
    const [cx, cy] = at(k);
    return `<circle r="1.5" stroke="black" fill="#b3b3b3" cx="${cx}" cy="${cy}" stroke-width="0.1" data-type="element node" data-element-id="${k + 1}" data-node-id="${k + 1}" data-label-name="${escapeXml(name)}"></circle>`;
  });
  return [...lines, ...circles].join('');
}

/**
 * The CVAT for images 1.1 XML of a dataset: every category a skeleton (names and visibility per
 * keypoint). Image names are the images' paths under `images/` (CVAT's export layout).
 */
export function buildCvat(model: ToolExportModel): string {
  const imageName = (p: string) => (p.startsWith('images/') ? p.slice('images/'.length) : p);
  const out: string[] = ['<?xml version="1.0" encoding="utf-8"?>', '<annotations>', '  <version>1.1</version>', '  <meta>', '    <task>'];
  // no task <name>: it would be the dataset's, and an export imported back and exported again must be the same file
  out.push(`      <size>${model.images.length}</size>`, '      <mode>annotation</mode>', '      <labels>');
  for (const c of model.categories) {
    const names = c.keypoints.map((k) => k.name);
    out.push(
      '        <label>',
      `          <name>${escapeXml(c.name)}</name>`,
      '          <color>#66ff66</color>',
      '          <type>skeleton</type>',
      '          <attributes>',
      '          </attributes>',
    );
    out.push(`          <svg>${escapeXml(skeletonSvg(names, c.skeleton))}</svg>`);
    if (c.flipPairs.length) out.push(`          <${FLIP_TAG}>${escapeXml(JSON.stringify(c.flipPairs.map(([a, b]) => [names[a], names[b]])))}</${FLIP_TAG}>`);
    out.push('        </label>');
    for (const k of c.keypoints) {
      out.push(
        '        <label>',
        `          <name>${escapeXml(k.name)}</name>`,
        `          <color>${escapeXml(k.color)}</color>`,
        '          <type>points</type>',
        '          <attributes>',
        '          </attributes>',
      );
      out.push(`          <parent>${escapeXml(c.name)}</parent>`, '        </label>');
    }
  }
  out.push('      </labels>', '    </task>', '  </meta>');
  model.images.forEach((img, i) => {
    out.push(`  <image id="${i}" name="${escapeXml(imageName(img.path))}" width="${img.width}" height="${img.height}">`);
    for (const a of img.annotations) {
      const c = model.categories.find((x) => x.name === a.category)!;
      out.push(`    <skeleton label="${escapeXml(c.name)}" source="manual" z_order="0">`);
      const byKp = new Map(a.keypoints.map((k) => [k.kp, k]));
      c.keypoints.forEach((def, kp) => {
        const k = byKp.get(kp);
        const where = k ? `${num(k.x)},${num(k.y)}` : '0,0';
        out.push(`      <points label="${escapeXml(def.name)}" source="manual" outside="${k ? 0 : 1}" occluded="${k?.visibility === 1 ? 1 : 0}" points="${where}">`, '      </points>');
      });
      out.push('    </skeleton>');
    }
    out.push('  </image>');
  });
  out.push('</annotations>', '');
  return out.join('\n');
}

/**
 * The labels in the form CVAT's label constructor takes (its "Raw" tab, or the API's `labels`): a
 * project or task made with them accepts annotations.xml. Keypoint colours are the sublabels'.
 */
export function buildCvatLabels(model: ToolExportModel): unknown[] {
  return model.categories.map((c) => ({
    name: c.name,
    color: '#66ff66',
    type: 'skeleton',
    attributes: [],
    sublabels: c.keypoints.map((k) => ({ name: k.name, color: k.color, type: 'points', attributes: [] })),
    svg: skeletonSvg(
      c.keypoints.map((k) => k.name),
      c.skeleton,
    ),
  }));
}

/** A category as read, with the label's kind. */
interface CvatCategory extends ParsedCategory {
  kind: 'skeleton' | 'points';
}

function parsePoint(text: string): [number, number] | null {
  const m = /^\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*$/.exec(text);
  if (!m) return null;
  const x = Number(m[1]);
  const y = Number(m[2]);
  return Number.isFinite(x) && Number.isFinite(y) ? [x, y] : null;
}

/** The skeleton's keypoints and edges from its sublabels and svg. */
function skeletonOf(
  label: XmlNode,
  subNames: { name: string; color: string | null }[],
  fail: (reason: string) => never,
): { keypoints: { name: string; color: string | null }[]; edges: [number, number][] } {
  const svgText = childText(label, 'svg') ?? '';
  const nodes = new Map<string, string | null>();
  const circles: string[] = [];
  const lines: [string, string][] = [];
  if (svgText.trim()) {
    const svg = parseXml(`<svg>${svgText}</svg>`);
    if ('problem' in svg) fail(`its <svg> is not valid: ${svg.problem}`);
    for (const el of svg.root.children) {
      if (el.tag === 'circle') {
        const id = el.attrs['data-node-id'] ?? el.attrs['data-element-id'];
        if (id === undefined) fail('a <circle> of its <svg> has no data-node-id');
        nodes.set(id, el.attrs['data-label-name'] ?? null);
        if (el.attrs['data-label-name']) circles.push(el.attrs['data-label-name']);
      } else if (el.tag === 'line') {
        const from = el.attrs['data-node-from'];
        const to = el.attrs['data-node-to'];
        if (from === undefined || to === undefined) fail('a <line> of its <svg> lacks data-node-from or data-node-to');
        lines.push([from, to]);
      }
    }
  }
  const keypoints = subNames.length ? subNames : circles.map((name) => ({ name, color: null }));
  const names = keypoints.map((k) => k.name);
  const nodeIds = [...nodes.keys()];
  const indexOf = (id: string): number => {
    const name = nodes.get(id);
    if (name) {
      const k = names.indexOf(name);
      if (k < 0) fail(`its <svg> has node '${name}', which is not one of its sublabels (${names.join(', ')})`);
      return k;
    }
    // a node without a name: the n-th node is the n-th sublabel
    const k = nodeIds.indexOf(id);
    if (k < 0 || k >= names.length) fail(`an edge of its <svg> joins node ${id}, which is not one of its ${names.length} nodes`);
    return k;
  };
  const edges = lines.map(([a, b]) => [indexOf(a), indexOf(b)] as [number, number]);
  return { keypoints, edges };
}

export const readCvat: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  const source = findAnnotationFile(root, options.annotations, '.xml', ['annotations.xml'], 'CVAT XML', ctx.wording);
  const file = displayName(root, source);
  const parsed = parseXml(fs.readFileSync(source, 'utf8'));
  if ('problem' in parsed) throw problems.fatal({ file }, parsed.problem);
  const doc = parsed.root;
  if (doc.tag !== 'annotations') throw problems.fatal({ file }, `the top-level element is <${doc.tag}>, not <annotations> (is this a CVAT for images XML file?)`);
  const version = childText(doc, 'version');
  if (version !== undefined && version !== '1.1') throw problems.fatal({ file, entry: '<version>' }, `is ${version}; this reads CVAT for images 1.1`);
  if (childrenNamed(doc, 'track').length > 0 && childrenNamed(doc, 'image').length === 0) {
    throw problems.fatal({ file }, 'holds <track> elements: this is CVAT for video; export the task as CVAT for images 1.1');
  }
  const meta = child(doc, 'meta');
  const holder = meta && (child(meta, 'task') ?? child(meta, 'project') ?? child(meta, 'job'));
  const labelsNode = holder && child(holder, 'labels');
  if (!labelsNode) throw problems.fatal({ file, entry: '<meta>' }, 'has no <labels> (under <task>, <project> or <job>): the keypoint names come from there');
  ctx.progress('scanning', 1, 1);

  // ----- labels -> categories
  const labels = childrenNamed(labelsNode, 'label');
  const subs = new Map<string, { name: string; color: string | null }[]>();
  for (const l of labels) {
    const parent = childText(l, 'parent');
    const name = childText(l, 'name');
    if (parent && name) subs.set(parent, [...(subs.get(parent) ?? []), { name, color: childText(l, 'color') ?? null }]);
  }
  const cats = new Map<string, CvatCategory>();
  labels.forEach((l, i) => {
    const name = childText(l, 'name');
    const at = { file, entry: `<label> ${i + 1}${name ? ` '${name}'` : ''}` };
    if (!name) throw problems.fatal(at, 'has no <name>');
    if (childText(l, 'parent')) return;
    const type = childText(l, 'type') ?? 'any';
    if (cats.has(name)) throw problems.fatal(at, `label '${name}' appears twice`);
    const fail = (reason: string): never => {
      throw problems.fatal(at, reason);
    };
    if (type === 'skeleton') {
      const { keypoints, edges } = skeletonOf(l, subs.get(name) ?? [], fail);
      if (keypoints.length === 0) fail('is a skeleton without points (no sublabels with this <parent>, no named <circle> in its <svg>)');
      if (keypoints.length > MAX_KEYPOINTS_PER_CATEGORY) fail(`has ${keypoints.length} points; at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints are allowed per category`);
      const names = keypoints.map((k) => k.name);
      const long = names.find((n) => n.length > MAX_KEYPOINT_NAME_LENGTH);
      if (long) fail(`point '${long.slice(0, 20)}...' has a name of ${long.length} characters; at most ${MAX_KEYPOINT_NAME_LENGTH} are allowed`);
      const dup = names.find((n, k) => names.indexOf(n) !== k);
      if (dup) fail(`point '${dup}' appears twice`);
      let flipPairs: [number, number][] = [];
      const flipText = childText(l, FLIP_TAG);
      if (flipText !== undefined) {
        let v: unknown;
        try {
          v = JSON.parse(flipText);
        } catch {
          fail(`<${FLIP_TAG}> must be a JSON list of [name, name] pairs`);
        }
        if (!Array.isArray(v)) fail(`<${FLIP_TAG}> must be a JSON list of [name, name] pairs`);
        flipPairs = (v as unknown[]).map((e) => {
          const ids = Array.isArray(e) && e.length === 2 ? e.map((n) => names.indexOf(n as string)) : [-1];
          if (ids.length !== 2 || ids.some((k) => k < 0)) fail(`<${FLIP_TAG}> entry ${JSON.stringify(e)} must pair two of its points (${names.join(', ')})`);
          return [ids[0]!, ids[1]!] as [number, number];
        });
        const problem = flipPairsProblem(flipPairs, names.length, names);
        if (problem) fail(problem);
      }
      cats.set(name, {
        kind: 'skeleton',
        name,
        ordinal: cats.size,
        keypoints: keypoints.map((k, j) => ({ name: k.name, color: k.color && /^#[0-9a-f]{3,8}$/i.test(k.color) ? k.color : defaultKeypointColor(j) })),
        skeleton: edges,
        flipPairs,
      });
    } else if (type === 'points' || type === 'any') {
      // the points' count is learned from the shapes
      cats.set(name, { kind: 'points', name, ordinal: cats.size, keypoints: [], skeleton: [], flipPairs: [] });
    }
  });

  // ----- images
  const images: ParsedDataset['images'] = new Map();
  const used = new Set<string>();
  const imageNodes = childrenNamed(doc, 'image');
  const instances = new Map<string, number>();
  for (let i = 0; i < imageNodes.length; i++) {
    await ctx.tick();
    ctx.progress('reading annotations', i + 1, imageNodes.length);
    const node = imageNodes[i]!;
    const name = node.attrs.name;
    const entry = `image id ${node.attrs.id ?? `#${i + 1}`}${name ? ` '${name}'` : ''}`;
    const at: Origin = { file, entry };
    if (!name) {
      problems.invalid(at, 'has no name (the image file)');
      continue;
    }
    const found = resolveToolImage(root, name);
    if ('problem' in found) {
      problems.invalid(at, found.problem, 'NOT_FOUND');
      continue;
    }
    if (used.has(found.path)) {
      problems.invalid(at, `image ${found.path} appears twice`);
      continue;
    }
    const width = Number(node.attrs.width);
    const height = Number(node.attrs.height);
    if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
      problems.invalid(at, `width and height must be positive integers, got ${JSON.stringify(node.attrs.width)} x ${JSON.stringify(node.attrs.height)}`);
      continue;
    }
    const anns: ParsedAnnotation[] = [];
    let bad = false;
    const counts = new Map<string, number>();
    /** Keypoint shapes by group_id, for the boxes grouped with them. */
    const groups = new Map<string, ParsedAnnotation>();
    for (const shape of node.children) {
      if (shape.tag !== 'skeleton' && shape.tag !== 'points') continue;
      const label = shape.attrs.label ?? '';
      const n = (counts.get(`${shape.tag}/${label}`) ?? 0) + 1;
      counts.set(`${shape.tag}/${label}`, n);
      const sAt: Origin = { file, entry: `${entry}, <${shape.tag}> ${n} of '${label}'` };
      const fail = (reason: string) => {
        problems.invalid(sAt, reason);
        bad = true;
      };
      const cat = cats.get(label);
      if (!cat) {
        fail(`unknown label '${label}': <meta> lists ${[...cats.keys()].map((c) => `'${c}'`).join(', ') || 'no labels'}`);
        break;
      }
      const kps: { kp: number; x: number; y: number; visibility: 1 | 2 }[] = [];
      if (shape.tag === 'skeleton') {
        if (cat.kind !== 'skeleton') {
          fail(`label '${label}' is of type points, not skeleton`);
          break;
        }
        const seen = new Set<number>();
        for (const el of childrenNamed(shape, 'points')) {
          const kp = cat.keypoints.findIndex((k) => k.name === el.attrs.label);
          if (kp < 0) {
            fail(`unknown point '${el.attrs.label ?? ''}': skeleton '${label}' has ${cat.keypoints.map((k) => `'${k.name}'`).join(', ')}`);
            break;
          }
          if (seen.has(kp)) {
            fail(`point '${el.attrs.label}' appears twice`);
            break;
          }
          seen.add(kp);
          if (el.attrs.outside === '1' || el.attrs.outside === 'true') continue;
          const xy = parsePoint(el.attrs.points ?? '');
          if (!xy) {
            fail(`point '${el.attrs.label}' must have points="x,y" (one point), got ${JSON.stringify(el.attrs.points ?? null)}`);
            break;
          }
          kps.push({ kp, x: xy[0], y: xy[1], visibility: el.attrs.occluded === '1' || el.attrs.occluded === 'true' ? 1 : 2 });
        }
        if (bad) break;
      } else {
        if (cat.kind !== 'points') {
          fail(`a <points> shape of label '${label}', which is a skeleton (its points belong inside <skeleton label="${label}">)`);
          break;
        }
        const parts = (shape.attrs.points ?? '').split(';').filter((p) => p.trim() !== '');
        const xys = parts.map(parsePoint);
        const badAt = xys.findIndex((p) => !p);
        if (parts.length === 0 || badAt >= 0) {
          fail(`points must be "x1,y1;x2,y2;...", got ${JSON.stringify(shape.attrs.points ?? null)}`);
          break;
        }
        if (cat.keypoints.length === 0) {
          if (xys.length > MAX_KEYPOINTS_PER_CATEGORY) {
            fail(`has ${xys.length} points; at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints are allowed per category`);
            break;
          }
          cat.keypoints = xys.map((_, k) => ({ name: String(k + 1), color: defaultKeypointColor(k) }));
        } else if (xys.length !== cat.keypoints.length) {
          fail(`has ${xys.length} points, but the shapes of label '${label}' have ${cat.keypoints.length} (CVAT's points have no names: every shape must list the same points in the same order)`);
          break;
        }
        const occluded = shape.attrs.occluded === '1' || shape.attrs.occluded === 'true';
        xys.forEach((p, kp) => kps.push({ kp, x: p![0], y: p![1], visibility: occluded ? 1 : 2 }));
      }
      const key = `${found.path}\n${label}`;
      const instance = instances.get(key) ?? 0;
      instances.set(key, instance + 1);
      anns.push({ category: label, instance, bbox: null, keypoints: kps.sort((a, b) => a.kp - b.kp), origin: sAt });
      const group = shape.attrs.group_id;
      if (group && group !== '0') groups.set(group, anns[anns.length - 1]!);
    }
    // a box grouped with a skeleton (group_id, as CVAT's keypoint exports pair them) is its object's box
    let boxNo = 0;
    for (const box of bad ? [] : childrenNamed(node, 'box')) {
      boxNo++;
      const ann = groups.get(box.attrs.group_id ?? '');
      if (!ann) continue;
      const bAt: Origin = { file, entry: `${entry}, <box> ${boxNo} (group ${box.attrs.group_id})` };
      const [x1, y1, x2, y2] = ['xtl', 'ytl', 'xbr', 'ybr'].map((k) => Number(box.attrs[k] ?? NaN));
      if (![x1, y1, x2, y2].every(Number.isFinite) || x2! < x1! || y2! < y1!) {
        problems.invalid(bAt, `needs numbers xtl <= xbr and ytl <= ybr, got ${JSON.stringify([box.attrs.xtl, box.attrs.ytl, box.attrs.xbr, box.attrs.ybr])}`);
        bad = true;
        break;
      }
      if (ann.bbox) {
        problems.invalid(bAt, `group ${box.attrs.group_id} has a second box; one object has one box`);
        bad = true;
        break;
      }
      ann.bbox = [x1!, y1!, x2!, y2!];
    }
    if (bad) continue;
    used.add(found.path);
    const img = imageFor(images, found.path, null, at);
    declareSize(img, { width, height }, at);
    img.annotations = anns;
    const names = new Set(anns.map((a) => a.category));
    img.category = names.size === 1 ? [...names][0]! : null;
  }

  // points labels no shape used have no keypoints to name: left out
  const categories = [...cats.values()].filter((c) => c.keypoints.length > 0).map(({ kind: _kind, ...c }, ordinal) => ({ ...c, ordinal }));
  const stemName = path.basename(source, path.extname(source));
  return {
    // stored as an annotated user dataset, keyed by its XML file (engine/datasets/domain.ts)
    format: 'coco',
    defaultName: /^annotations?$/i.test(stemName) ? path.basename(root) : stemName,
    source,
    categories,
    images,
    pairs: [],
    userAnnotations: false,
    deriveImageAnnotations: false,
  };
};

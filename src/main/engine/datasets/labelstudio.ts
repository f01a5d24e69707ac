/**
 * Label Studio keypoints, both ways (docs/formats.md, "Label Studio").
 *
 * Import reads Label Studio's JSON export: a list of tasks {id, data: {image}, annotations:
 * [{result: [{id, type: 'keypointlabels', from_name, to_name, original_width, original_height,
 * value: {x, y, width, keypointlabels: [label]}}]}]}, x and y in percent of the image (0-100).
 * Each KeyPointLabels control (`from_name`) is a category and its labels are the keypoints. The
 * labelling config (XML: <KeyPointLabels name> with <Label value background>) fixes the keypoint
 * order and colours when it is found beside the export (`<stem>.label_config.xml`,
 * `label_config.xml` or `config.xml`); without it the keypoints are the labels seen, in the order
 * first seen. Label Studio has no skeletons, symmetric pairs, visibility or instances; this
 * workstation writes them where Label Studio keeps them without reading them:
 *  - skeleton and symmetric pairs: a comment in the config, `<!-- sd4match {"categories": {cat:
 *    {"skeleton": [[a, b]], "flipPairs": [[a, b]]}}} -->` (keypoint names);
 *  - an occluded keypoint (visibility 1): `meta: {"visibility": 1}` on its result;
 *  - the second and later objects of a category on an image: `meta: {"instance": n}`. Results
 *    without it go to instances by order: the n-th result with a label is in instance n.
 * Tasks with several annotations use the one marked ground_truth, else the last not cancelled;
 * predictions are not annotations and are not read. Results of other types (rectangles, choices)
 * are left out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAX_KEYPOINT_NAME_LENGTH, MAX_KEYPOINTS_PER_CATEGORY } from '../../shared/limits.js';
import { defaultKeypointColor } from './domain.js';
import { flipPairsProblem } from './flip-pairs.js';
import { parseJsonBytes } from './fs-util.js';
import { childrenNamed, descendantsNamed, displayName, escapeXml, findAnnotationFile, parseXml, resolveToolImage, type ToolExportModel, type XmlNode } from './tool-xml.js';
import { declareSize, imageFor, isFiniteNumber, type Origin, type ParsedAnnotation, type ParsedCategory, type ParsedDataset, type Reader } from './types.js';

/** The size (percent of the image width) keypoints are drawn at in Label Studio. */
const POINT_WIDTH = 0.5;
/** Decimals of the percent coordinates written: export, import, export gives the same text. */
const PERCENT_DECIMALS = 10;
/** The name of the Image tag (`to_name`) and its data key in what the export writes. */
const IMAGE_TAG = 'image';
const SCHEMA_MARK = 'sd4match';

export interface LabelStudioResult {
  id: string;
  type: 'keypointlabels';
  from_name: string;
  to_name: string;
  original_width: number;
  original_height: number;
  image_rotation: 0;
  value: { x: number; y: number; width: number; keypointlabels: [string] };
  meta?: { visibility?: 1; instance?: number };
}

export interface LabelStudioTask {
  id: number;
  data: { image: string };
  annotations: { id: number; result: LabelStudioResult[] }[];
}

/** What the export writes: the tasks JSON and the labelling config that goes with it. */
export interface LabelStudioExport {
  tasks: LabelStudioTask[];
  config: string;
}

/** Where the config is looked for beside a tasks file `file`. */
export function labelStudioConfigCandidates(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file, path.extname(file));
  return [path.join(dir, `${base}.label_config.xml`), path.join(dir, 'label_config.xml'), path.join(dir, 'config.xml')];
}

/** The `data.image` reference for a dataset path: Label Studio's local-files URL (document root = the dataset root). */
export function labelStudioImageUrl(rel: string): string {
  return `/data/local-files/?d=${encodeURIComponent(rel).replace(/%2F/g, '/')}`;
}

function percent(v: number, size: number): number {
  return Number(((v / size) * 100).toFixed(PERCENT_DECIMALS));
}

/** The tasks and config for a dataset (Label Studio's JSON export layout). */
export function buildLabelStudio(model: ToolExportModel): LabelStudioExport {
  const tasks: LabelStudioTask[] = model.images.map((img, t) => {
    const result: LabelStudioResult[] = [];
    for (const a of model.images[t]!.annotations) {
      const cat = model.categories.find((c) => c.name === a.category)!;
      for (const k of a.keypoints) {
        const meta = { ...(k.visibility === 1 ? { visibility: 1 as const } : {}), ...(a.instance > 0 ? { instance: a.instance } : {}) };
        result.push({
          id: `t${t + 1}-${model.categories.indexOf(cat) + 1}-${a.instance}-${k.kp}`,
          type: 'keypointlabels',
          from_name: cat.name,
          to_name: IMAGE_TAG,
          original_width: img.width,
          original_height: img.height,
          image_rotation: 0,
          value: { x: percent(k.x, img.width), y: percent(k.y, img.height), width: POINT_WIDTH, keypointlabels: [cat.keypoints[k.kp]!.name] },
          ...(Object.keys(meta).length ? { meta } : {}),
        });
      }
    }
    return { id: t + 1, data: { image: labelStudioImageUrl(img.path) }, annotations: result.length ? [{ id: t + 1, result }] : [] };
  });
  const schema: Record<string, { skeleton: [string, string][]; flipPairs: [string, string][] }> = {};
  for (const c of model.categories) {
    const names = (pairs: [number, number][]) => pairs.map(([a, b]) => [c.keypoints[a]!.name, c.keypoints[b]!.name] as [string, string]);
    if (c.skeleton.length || c.flipPairs.length) schema[c.name] = { skeleton: names(c.skeleton), flipPairs: names(c.flipPairs) };
  }
  // '--' may not appear in an XML comment; inside JSON strings \u002d reads back as '-'
  const comment = Object.keys(schema).length ? `  <!-- ${SCHEMA_MARK} ${JSON.stringify({ categories: schema }).replace(/--/g, '-\\u002d')} -->\n` : '';
  const controls = model.categories
    .map(
      (c) =>
        `  <KeyPointLabels name="${escapeXml(c.name)}" toName="${IMAGE_TAG}">\n${c.keypoints.map((k) => `    <Label value="${escapeXml(k.name)}" background="${escapeXml(k.color)}"/>\n`).join('')}  </KeyPointLabels>\n`,
    )
    .join('');
  const config = `<View>\n${comment}  <Image name="${IMAGE_TAG}" value="$${IMAGE_TAG}" zoom="true"/>\n${controls}</View>\n`;
  return { tasks, config };
}

interface ConfigControl {
  name: string;
  toName: string;
  labels: { value: string; color: string | null }[];
}

interface LabelStudioConfig {
  file: string;
  controls: Map<string, ConfigControl>;
  /** Image tag name -> the data key it shows ('$image' -> 'image'). */
  images: Map<string, string>;
  schema: Record<string, { skeleton?: unknown; flipPairs?: unknown }>;
}

function readConfig(file: string, shown: string, fatal: (o: Origin, reason: string) => Error): LabelStudioConfig {
  const parsed = parseXml(fs.readFileSync(file, 'utf8'));
  if ('problem' in parsed) throw fatal({ file: shown }, parsed.problem);
  const controls = new Map<string, ConfigControl>();
  const all = [...(parsed.root.tag.toLowerCase() === 'keypointlabels' ? [parsed.root] : []), ...descendantsNamed(parsed.root, 'KeyPointLabels', true)];
  all.forEach((n, i) => {
    const at = { file: shown, entry: `<KeyPointLabels> ${i + 1}` };
    if (!n.attrs.name) throw fatal(at, 'needs a name (the from_name of its results)');
    if (controls.has(n.attrs.name)) throw fatal(at, `name '${n.attrs.name}' is used by two KeyPointLabels`);
    const labels = childrenNamed(n, 'Label', true).map((l) => ({ value: l.attrs.value ?? '', color: l.attrs.background ?? null }));
    const empty = labels.findIndex((l) => !l.value);
    if (empty >= 0) throw fatal(at, `<Label> ${empty + 1} has no value`);
    const dup = labels.findIndex((l, j) => labels.findIndex((m) => m.value === l.value) !== j);
    if (dup >= 0) throw fatal(at, `label '${labels[dup]!.value}' appears twice`);
    controls.set(n.attrs.name, { name: n.attrs.name, toName: n.attrs.toName ?? '', labels });
  });
  const images = new Map<string, string>();
  for (const n of descendantsNamed(parsed.root, 'Image', true)) if (n.attrs.name && n.attrs.value?.startsWith('$')) images.set(n.attrs.name, n.attrs.value.slice(1));
  let schema: LabelStudioConfig['schema'] = {};
  const walk = (n: XmlNode): string[] => [...n.comments, ...n.children.flatMap(walk)];
  for (const c of walk(parsed.root)) {
    const m = /^\s*sd4match\s+([\s\S]*?)\s*$/.exec(c);
    if (!m) continue;
    try {
      const v = JSON.parse(m[1]!) as { categories?: unknown };
      if (!v || typeof v !== 'object' || typeof v.categories !== 'object' || v.categories === null) throw new Error('no categories');
      schema = v.categories as LabelStudioConfig['schema'];
    } catch {
      throw fatal({ file: shown, entry: 'the sd4match comment' }, 'must be {"categories": {name: {"skeleton": [[a, b]], "flipPairs": [[a, b]]}}} with keypoint names');
    }
    break;
  }
  return { file: shown, controls, images, schema };
}

/** The dataset path a `data.image` value names (local-files URL, upload, URL or plain path). */
function imageRef(v: string): { ref: string; extra: string[] } {
  const local = /[?&]d=([^&]*)/.exec(v);
  if (v.includes('/data/local-files') && local) return { ref: decodeURIComponent(local[1]!.replace(/\+/g, ' ')), extra: [] };
  let p = v;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    try {
      p = new URL(v).pathname;
    } catch {
      p = v;
    }
  }
  try {
    p = decodeURIComponent(p.split('?')[0]!);
  } catch {
    // a stray '%' is part of the name
  }
  // Label Studio renames uploads to '<8 hex>-<name>'
  const base = p.split('/').pop() ?? p;
  const upload = /^[0-9a-f]{8}-(.+)$/.exec(base);
  return { ref: p, extra: upload ? [upload[1]!] : [] };
}

/** The annotation a task's keypoints come from: ground truth, else the last one not cancelled. */
function pickAnnotation(list: unknown[]): Record<string, unknown> | null {
  const usable = list.filter((a) => a && typeof a === 'object' && (a as Record<string, unknown>).was_cancelled !== true) as Record<string, unknown>[];
  return usable.find((a) => a.ground_truth === true) ?? usable[usable.length - 1] ?? null;
}

export const readLabelStudio: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  ctx.progress('scanning', 0, 1);
  const source = findAnnotationFile(root, options.annotations, '.json', ['tasks.json', 'labelstudio.json', 'export.json'], 'Label Studio JSON', ctx.wording);
  const file = displayName(root, source);
  const fatal = (o: Origin, reason: string) => problems.fatal(o, reason);
  const read = parseJsonBytes(fs.readFileSync(source));
  if ('problem' in read) throw fatal({ file }, read.problem);
  // Label Studio also imports a single task object; read it as a list of one
  const single = read.value !== null && typeof read.value === 'object' && !Array.isArray(read.value) && 'data' in read.value;
  if (!Array.isArray(read.value) && !single) throw fatal({ file }, 'the top level is not a list of tasks (is this a Label Studio JSON export?)');
  const tasks = single ? [read.value] : (read.value as unknown[]);
  const configFile = labelStudioConfigCandidates(source).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  const config = configFile ? readConfig(configFile, displayName(root, configFile), fatal) : null;
  ctx.progress('scanning', 1, 1);

  /** Categories by control name; without a config, built from what the results use. */
  const cats = new Map<string, ParsedCategory>();
  if (config) {
    for (const c of config.controls.values()) {
      const at = { file: config.file, entry: `<KeyPointLabels name="${c.name}">` };
      if (c.labels.length > MAX_KEYPOINTS_PER_CATEGORY) throw fatal(at, `has ${c.labels.length} labels; at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints are allowed per category`);
      const long = c.labels.find((l) => l.value.length > MAX_KEYPOINT_NAME_LENGTH);
      if (long) throw fatal(at, `label '${long.value.slice(0, 20)}...' has ${long.value.length} characters; at most ${MAX_KEYPOINT_NAME_LENGTH} are allowed`);
      cats.set(c.name, { name: c.name, ordinal: cats.size, keypoints: c.labels.map((l, k) => ({ name: l.value, color: l.color ?? defaultKeypointColor(k) })), skeleton: [], flipPairs: [] });
    }
  }

  const images: ParsedDataset['images'] = new Map();
  const taskIds = new Set<unknown>();
  /** Per image and category: the instances' keypoint maps. */
  interface Pending {
    img: string;
    category: string;
    instances: Map<number, { kps: Map<number, { x: number; y: number; visibility: 1 | 2 }>; origin: Origin }>;
    next: Map<string, number>;
  }
  const pending: Pending[] = [];
  for (let i = 0; i < tasks.length; i++) {
    await ctx.tick();
    ctx.progress('reading annotations', i + 1, tasks.length);
    const task = tasks[i] as Record<string, unknown>;
    if (!task || typeof task !== 'object' || Array.isArray(task)) {
      problems.invalid({ file, entry: `tasks[${i}]` }, 'a task must be an object {id, data, annotations}');
      continue;
    }
    const name = task.id !== undefined ? `task id ${JSON.stringify(task.id)}` : `tasks[${i}]`;
    const at = { file, entry: name };
    if (task.id !== undefined && taskIds.has(task.id)) {
      problems.invalid(at, `task id ${JSON.stringify(task.id)} appears twice`);
      continue;
    }
    taskIds.add(task.id);
    const data = task.data as Record<string, unknown> | undefined;
    if (!data || typeof data !== 'object') {
      problems.invalid(at, "missing 'data' (the task's image); is this Label Studio's JSON export (not JSON-MIN or CSV)?");
      continue;
    }
    const rawAnns = task.annotations ?? task.completions ?? [];
    if (!Array.isArray(rawAnns)) {
      problems.invalid(at, "'annotations' must be a list");
      continue;
    }
    const ann = pickAnnotation(rawAnns);
    const results = ann ? (ann.result ?? []) : [];
    if (!Array.isArray(results)) {
      problems.invalid(at, "the annotation's 'result' must be a list");
      continue;
    }
    const kpResults = results.filter((r) => r && typeof r === 'object' && (r as Record<string, unknown>).type === 'keypointlabels') as Record<string, unknown>[];
    // a <KeyPoint> (no labels) has no name to be a keypoint of a schema: said in the report
    const unnamed = results.filter((r) => r && typeof r === 'object' && (r as Record<string, unknown>).type === 'keypoint').length;
    if (unnamed > 0) problems.skip(at, `${unnamed} keypoint${unnamed === 1 ? '' : 's'} of a <KeyPoint> tag left out: without a label they name no keypoint (use <KeyPointLabels>)`);
    // the data key: the config's Image tag the results point at, else 'image', else the only string
    const toName = kpResults.find((r) => typeof r.to_name === 'string')?.to_name as string | undefined;
    const key =
      (toName && config?.images.get(toName)) ??
      (typeof data.image === 'string' ? 'image' : Object.keys(data).find((k) => typeof data[k] === 'string' && Object.values(data).filter((v) => typeof v === 'string').length === 1));
    const value = key ? data[key] : undefined;
    if (typeof value !== 'string' || !value) {
      problems.invalid(at, `'data' names no image (expected data.${key ?? 'image'} with the image's path or URL)`);
      continue;
    }
    const ref = imageRef(value);
    const found = resolveToolImage(root, ref.ref, ref.extra);
    if ('problem' in found) {
      problems.invalid(at, found.problem, 'NOT_FOUND');
      continue;
    }
    const imgAt = { file, entry: `${name} (${found.path})` };
    if (images.has(found.path)) {
      problems.invalid(imgAt, `image ${found.path} is already the image of ${describeEntry(images.get(found.path)!.origin)}`);
      continue;
    }
    const img = imageFor(images, found.path, null, imgAt);
    const byCat = new Map<string, Pending>();
    let bad = false;
    for (let r = 0; r < kpResults.length && !bad; r++) {
      const res = kpResults[r]!;
      const rAt = { file, entry: `${name}, result ${typeof res.id === 'string' || typeof res.id === 'number' ? `'${res.id}'` : r + 1}` };
      const fail = (reason: string) => {
        problems.invalid(rAt, reason);
        bad = true;
      };
      const v = res.value as Record<string, unknown> | undefined;
      const labels = v && typeof v === 'object' ? v.keypointlabels : undefined;
      if (!v || typeof v !== 'object' || !isFiniteNumber(v.x) || !isFiniteNumber(v.y)) {
        fail("'value' must hold numbers x and y (percent of the image)");
        continue;
      }
      if (!Array.isArray(labels) || labels.length !== 1 || typeof labels[0] !== 'string' || !labels[0]) {
        fail(`'value.keypointlabels' must hold exactly one label, got ${JSON.stringify(labels)}`);
        continue;
      }
      const label = labels[0];
      if (v.x < 0 || v.x > 100 || v.y < 0 || v.y > 100) {
        fail(`keypoint '${label}' at (${v.x}%, ${v.y}%) lies outside the image (x and y are percent, 0 to 100)`);
        continue;
      }
      // the sizes are optional (pre-annotations leave them out) but checked against the image when given
      const w = res.original_width;
      const h = res.original_height;
      if (w !== undefined || h !== undefined) {
        if (!Number.isSafeInteger(w) || !Number.isSafeInteger(h) || (w as number) <= 0 || (h as number) <= 0) {
          fail(`original_width and original_height must be positive integers (the image size in pixels), got ${JSON.stringify(w)} x ${JSON.stringify(h)}`);
          continue;
        }
        declareSize(img, { width: w as number, height: h as number }, rAt);
      }
      const control = typeof res.from_name === 'string' ? res.from_name : '';
      let cat = cats.get(control);
      if (!cat) {
        if (config) {
          fail(
            `from_name '${control}' is not a <KeyPointLabels> of the labelling config ${config.file} (it has ${[...config.controls.keys()].map((c) => `'${c}'`).join(', ') || 'none: is it the config of a keypoint project?'})`,
          );
          continue;
        }
        if (!control) {
          fail('needs a from_name (the KeyPointLabels control, which names the category)');
          continue;
        }
        cat = { name: control, ordinal: cats.size, keypoints: [], skeleton: [], flipPairs: [] };
        cats.set(control, cat);
      }
      let kp = cat.keypoints.findIndex((k) => k.name === label);
      if (kp < 0) {
        if (config) {
          fail(`unknown keypoint label '${label}': <KeyPointLabels name="${cat.name}"> in ${config.file} lists ${cat.keypoints.map((k) => `'${k.name}'`).join(', ')}`);
          continue;
        }
        if (label.length > MAX_KEYPOINT_NAME_LENGTH) {
          fail(`label '${label.slice(0, 20)}...' has ${label.length} characters; at most ${MAX_KEYPOINT_NAME_LENGTH} are allowed`);
          continue;
        }
        if (cat.keypoints.length >= MAX_KEYPOINTS_PER_CATEGORY) {
          fail(`category '${cat.name}' would have more than ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`);
          continue;
        }
        kp = cat.keypoints.length;
        cat.keypoints.push({ name: label, color: defaultKeypointColor(kp) });
      }
      const meta = res.meta && typeof res.meta === 'object' ? (res.meta as Record<string, unknown>) : {};
      if (meta.visibility !== undefined && meta.visibility !== 1 && meta.visibility !== 2) {
        fail(`meta.visibility must be 1 (occluded) or 2 (visible), got ${JSON.stringify(meta.visibility)}`);
        continue;
      }
      if (meta.instance !== undefined && !(Number.isSafeInteger(meta.instance) && (meta.instance as number) >= 0)) {
        fail(`meta.instance must be an integer >= 0, got ${JSON.stringify(meta.instance)}`);
        continue;
      }
      let p = byCat.get(cat.name);
      if (!p) {
        p = { img: found.path, category: cat.name, instances: new Map(), next: new Map() };
        byCat.set(cat.name, p);
      }
      let instance: number;
      if (meta.instance !== undefined) instance = meta.instance as number;
      else {
        instance = p.next.get(label) ?? 0;
        p.next.set(label, instance + 1);
      }
      let inst = p.instances.get(instance);
      if (!inst) {
        inst = { kps: new Map(), origin: rAt };
        p.instances.set(instance, inst);
      }
      if (inst.kps.has(kp)) {
        fail(`keypoint '${label}' appears twice in object ${instance} of category '${cat.name}' (give the second object meta {"instance": n})`);
        continue;
      }
      // percent: the import turns them into pixels of the measured image (relativeTo)
      inst.kps.set(kp, { x: v.x, y: v.y, visibility: meta.visibility === 1 ? 1 : 2 });
    }
    if (bad) {
      images.delete(found.path);
      continue;
    }
    pending.push(...byCat.values());
  }

  // skeleton and pairs from the config's sd4match comment (keypoint names)
  if (config) {
    for (const [catName, s] of Object.entries(config.schema)) {
      const at = { file: config.file, entry: `the sd4match comment, category '${catName}'` };
      const cat = cats.get(catName);
      if (!cat) throw fatal(at, `unknown category: the config has no <KeyPointLabels name="${catName}">`);
      const toPairs = (v: unknown, what: string): [number, number][] => {
        if (v === undefined) return [];
        if (!Array.isArray(v)) throw fatal(at, `'${what}' must be a list of [name, name] pairs`);
        return v.map((e: unknown) => {
          if (!Array.isArray(e) || e.length !== 2) throw fatal(at, `'${what}' entry ${JSON.stringify(e)} must be a pair of keypoint names`);
          const ids = e.map((n) => cat.keypoints.findIndex((k) => k.name === n));
          const missing = ids.findIndex((k) => k < 0);
          if (missing >= 0) throw fatal(at, `'${what}' names unknown keypoint ${JSON.stringify(e[missing])}`);
          return [ids[0]!, ids[1]!] as [number, number];
        });
      };
      cat.skeleton = toPairs(s.skeleton, 'skeleton');
      cat.flipPairs = toPairs(s.flipPairs, 'flipPairs');
      const problem = flipPairsProblem(
        cat.flipPairs,
        cat.keypoints.length,
        cat.keypoints.map((k) => k.name),
      );
      if (problem) throw fatal(at, problem);
    }
  }

  for (const p of pending) {
    const img = images.get(p.img);
    if (!img) continue;
    // instances numbered 0, 1, ... in the order of the numbers the file gives
    for (const [instance, [, inst]] of [...p.instances].sort((a, b) => a[0] - b[0]).entries()) {
      const ann: ParsedAnnotation = {
        category: p.category,
        instance,
        bbox: null,
        keypoints: [...inst.kps].sort((a, b) => a[0] - b[0]).map(([kp, k]) => ({ kp, ...k })),
        origin: inst.origin,
      };
      img.annotations.push(ann);
    }
  }
  for (const img of images.values()) {
    const names = new Set(img.annotations.map((a) => a.category));
    img.category = names.size === 1 ? [...names][0]! : null;
  }
  const stemName = path.basename(source, path.extname(source));
  return {
    // stored as an annotated user dataset, keyed by its tasks file (engine/datasets/domain.ts)
    format: 'coco',
    defaultName: /^(tasks|export|labelstudio|annotations?)$/i.test(stemName) ? path.basename(root) : stemName,
    source,
    categories: [...cats.values()],
    images,
    pairs: [],
    userAnnotations: false,
    deriveImageAnnotations: false,
    relativeTo: 100,
  };
};

function describeEntry(o: Origin): string {
  return o.entry ?? o.file;
}

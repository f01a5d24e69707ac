/**
 * DeepLabCut from the export model: a project folder with `config.yaml` (Task, scorer, bodyparts,
 * skeleton by name, video_sets) and `labeled-data/<video>/` holding copies of the images and
 * `CollectedData_<scorer>.csv` in DeepLabCut's layout (header rows scorer / [individuals] /
 * bodyparts / coords, then one row per labelled image: `labeled-data,<video>,<file>,x,y,...`, an
 * absent keypoint left empty). DeepLabCut has no visibility: occluded keypoints are written as
 * labelled. An image with several annotations makes a multi-animal project (individuals
 * individual1..N). The `.h5` twin of the CSV is not written: DeepLabCut makes it with
 * `deeplabcut.convertcsv2h5`. `flip_pairs` (symmetric pairs by name) is this workstation's
 * extension in config.yaml. See docs/formats.md.
 *
 * Images under `labeled-data/<video>/` keep their place; any other image goes to
 * `labeled-data/<its folder, '/' -> '-'>/` (top-level images: the category's name).
 */
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import type { ExportModel } from './model.js';
import { copyImage, type ExportWriter, writeText } from './writer.js';

/** The scorer written: the CSV's name and header say whose labels these are. */
export const DLC_SCORER = 'sd4match';

/** A CSV field, quoted when it must be (RFC 4180; all csv-stringify would do for these rows). */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A folder or file name DeepLabCut can use as a video name (no '/' and nothing odd). */
function videoName(s: string): string {
  return s.replace(/[/\\]+/g, '-').replace(/[^A-Za-z0-9._ -]+/g, '_') || 'images';
}

/** Where an image goes: labeled-data/<video>/<file>. */
export function dlcPlace(p: string, fallbackVideo: string): { video: string; file: string } {
  const parts = p.split('/');
  if (parts.length === 3 && parts[0] === 'labeled-data') return { video: parts[1]!, file: parts[2]! };
  const dir = path.posix.dirname(p);
  return { video: dir === '.' ? videoName(fallbackVideo) : videoName(dir), file: path.posix.basename(p) };
}

/** A YAML scalar: plain when it reads back as the same string, else JSON-quoted (valid YAML). */
function scalar(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(s) ? s : JSON.stringify(s);
}

export const dlcWriter: ExportWriter = {
  target: 'folder',
  marker: 'config.yaml',
  write(model, out, final) {
    const cats = model.categories;
    if (cats.length !== 1) {
      throw new AppError(
        'INVALID_ARGUMENT',
        cats.length === 0
          ? `dataset '${model.dataset.name}' has no categories; a DeepLabCut project needs one list of bodyparts`
          : `a DeepLabCut project has one list of bodyparts, but dataset '${model.dataset.name}' has ${cats.length} categories (${cats.map((c) => c.name).join(', ')}); export them as COCO or YOLO instead`,
      );
    }
    const cat = cats[0]!;
    const names = cat.keypoints.map((k) => k.name);
    if (names.length === 0) throw new AppError('INVALID_ARGUMENT', `category '${cat.name}' has no keypoints; a DeepLabCut project needs bodyparts`);
    const byImage = new Map<number, ExportModel['annotations']>();
    for (const a of model.annotations) {
      if (a.categoryId !== cat.id) continue;
      const list = byImage.get(a.imageId) ?? [];
      list.push(a);
      byImage.set(a.imageId, list);
    }
    const individuals = Math.max(1, ...[...byImage.values()].map((l) => l.length));
    const multi = individuals > 1;

    const placed = new Map<string, string>();
    const videos = new Map<string, { width: number; height: number; rows: string[] }>();
    for (const img of model.images) {
      const { video, file } = dlcPlace(img.path, cat.name);
      const to = `labeled-data/${video}/${file}`;
      const clash = placed.get(to);
      if (clash !== undefined) throw new AppError('INVALID_ARGUMENT', `images ${clash} and ${img.path} would both be ${to} in the DeepLabCut project; rename one`);
      placed.set(to, img.path);
      copyImage(model.dataset.root, img.path, out, to);
      let v = videos.get(video);
      if (!v) videos.set(video, (v = { width: img.width, height: img.height, rows: [] }));
      const anns = byImage.get(img.id) ?? [];
      if (!anns.some((a) => a.keypoints.length > 0)) continue; // DeepLabCut lists labelled frames; the others are in the folder
      const cells: string[] = [];
      for (let i = 0; i < individuals; i++) {
        const kps = new Map((anns[i]?.keypoints ?? []).map((k) => [k.kp, k]));
        for (let j = 0; j < names.length; j++) {
          const k = kps.get(j);
          cells.push(k ? String(k.x) : '', k ? String(k.y) : '');
        }
      }
      v.rows.push(['labeled-data', video, file].map(csvField).concat(cells).join(','));
    }
    const columns = Array.from({ length: individuals }, (_, i) => names.map((n) => ({ individual: `individual${i + 1}`, bodypart: n }))).flat();
    const header = [
      ['scorer', '', '', ...columns.flatMap(() => [DLC_SCORER, DLC_SCORER])],
      ...(multi ? [['individuals', '', '', ...columns.flatMap((c) => [c.individual, c.individual])]] : []),
      ['bodyparts', '', '', ...columns.flatMap((c) => [c.bodypart, c.bodypart])],
      ['coords', '', '', ...columns.flatMap(() => ['x', 'y'])],
    ].map((r) => r.map(csvField).join(','));
    for (const [video, v] of videos) {
      if (v.rows.length > 0) writeText(out, `labeled-data/${video}/CollectedData_${DLC_SCORER}.csv`, `${[...header, ...v.rows].join('\n')}\n`);
    }

    const list = (items: string[], indent = '') => (items.length ? items.map((s) => `${indent}- ${scalar(s)}`) : [`${indent}[]`]);
    const pairs = (edges: [number, number][]) => (edges.length ? edges.flatMap(([a, b]) => [`- - ${scalar(names[a]!)}`, `  - ${scalar(names[b]!)}`]) : []);
    const config = [
      '# DeepLabCut project written by SD4Match Workstation (see its docs/formats.md).',
      '# The videos are not part of the export: DeepLabCut only needs their names (labeled-data/<video>/).',
      `Task: ${scalar(cat.name)}`,
      `scorer: ${DLC_SCORER}`,
      `date: ${scalar(new Date().toISOString().slice(0, 10))}`,
      `multianimalproject: ${multi}`,
      'identity:',
      `project_path: ${JSON.stringify(final)}`,
      'video_sets:',
      ...[...videos].map(([video, v]) => `  ${JSON.stringify(`videos/${video}.mp4`)}:\n    crop: 0, ${v.width}, 0, ${v.height}`),
      ...(multi
        ? ['individuals:', ...list(Array.from({ length: individuals }, (_, i) => `individual${i + 1}`)), 'uniquebodyparts: []', 'multianimalbodyparts:', ...list(names), 'bodyparts: MULTI!']
        : ['bodyparts:', ...list(names)]),
      'start: 0',
      'stop: 1',
      'numframes2pick: 20',
      ...(cat.skeleton.length ? ['skeleton:', ...pairs(cat.skeleton)] : ['skeleton: []']),
      'skeleton_color: black',
      'pcutoff: 0.6',
      'dotsize: 12',
      'alphavalue: 0.7',
      'colormap: rainbow',
      'TrainingFraction:',
      '- 0.95',
      'iteration: 0',
      'default_net_type: resnet_50',
      'default_augmenter: default',
      'snapshotindex: -1',
      'batch_size: 8',
      'cropping: false',
      'x1: 0',
      'x2: 640',
      'y1: 277',
      'y2: 624',
      'corner2move2:',
      '- 50',
      '- 50',
      'move2corner: true',
      '# symmetric bodyparts (left <-> right), an extension DeepLabCut ignores',
      ...(cat.flipPairs.length ? ['flip_pairs:', ...pairs(cat.flipPairs)] : ['flip_pairs: []']),
    ];
    writeText(out, 'config.yaml', `${config.join('\n')}\n`);
  },
};

/**
 * `sd4match import` and `sd4match datasets list|show|delete|export|export-coco`: datasets in the store.
 * Human tables on stdout by default, `--json` for machines; progress on stderr; errors as one
 * line on stderr (see common.ts). The database is `--db FILE`, else $SD4MATCH_DB, else the
 * app-data default (src/main/store/paths.ts).
 */
import { type Command, Option } from 'commander';
import { writeCocoFile } from '../services/datasets/coco-export.js';
import { exportDataset } from '../services/datasets/export/index.js';
import { EXPORT_FORMATS, type ExportFormat, IMPORT_FORMATS, type ImportFormat } from '../engine/datasets/domain.js';
import { importDataset, type ImportReport } from '../services/datasets/import.js';
import { DatasetsRepo, SPLITS } from '../store/repositories/datasets.js';
import { Store } from '../store/db.js';
import { resolveStoreLocation } from '../store/paths.js';
import { cliTask } from './common.js';
import { recoverRunsOnOpen } from '../services/runs/lifecycle.js';

/** Opens the store the command's `--db` (or the environment, or the default) names. */
export function openCliStore(cmd: Command): Store {
  const { db } = cmd.optsWithGlobals<{ db?: string }>();
  const loc = resolveStoreLocation(db);
  const store = Store.open(loc.db, { cacheDir: loc.cacheDir });
  // like every start on the store: runs whose process is gone end failed, with the reason
  recoverRunsOnOpen(store);
  return store;
}

async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T> | T): Promise<T> {
  const store = openCliStore(cmd);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Left-aligned columns, numbers right-aligned. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const n = (v: number) => v.toLocaleString('en-US');

const MAX_SKIPPED_LINES = 20;

export function formatReport(r: ImportReport): string {
  const splits = SPLITS.filter((s) => r.pairsBySplit[s] > 0).map((s) => `${s} ${n(r.pairsBySplit[s])}`);
  const lines = [
    `${r.created ? 'imported' : 'updated'} dataset '${r.name}' (id ${r.datasetId}, ${r.format}) from ${r.root} in ${r.seconds.total.toFixed(1)}s`,
    `  images       ${n(r.images)}`,
    `  categories   ${n(r.categories)}`,
    `  annotations  ${n(r.annotations)} (${n(r.keypoints)} keypoints)`,
    `  pairs        ${n(r.pairs)}${splits.length ? ` (${splits.join(', ')})` : ''}${r.pairPoints ? `, ${n(r.pairPoints)} correspondences` : ''}`,
  ];
  const removed = Object.entries(r.removed).filter(([, v]) => v > 0);
  if (removed.length) lines.push(`  removed      ${removed.map(([k, v]) => `${n(v)} ${k}`).join(', ')} no longer in the source`);
  if (r.skipped.length) {
    lines.push(`skipped ${n(r.skipped.length)} entr${r.skipped.length === 1 ? 'y' : 'ies'}:`);
    for (const s of r.skipped.slice(0, MAX_SKIPPED_LINES)) lines.push(`  ${s.file}${s.entry ? `: ${s.entry}` : ''}: ${s.reason}`);
    if (r.skipped.length > MAX_SKIPPED_LINES) lines.push(`  ... and ${n(r.skipped.length - MAX_SKIPPED_LINES)} more (--json lists them all)`);
  }
  return lines.join('\n');
}

function when(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function registerDatasetCommands(program: Command): void {
  program
    .command('import')
    .description('import a dataset from its published folder into the database (all or nothing; re-importing updates in place)')
    .addOption(new Option('--format <format>', 'dataset format (yolo, dlc, labelstudio, cvat: annotation tools, see docs/formats.md)').choices([...IMPORT_FORMATS]).makeOptionMandatory())
    .requiredOption(
      '--root <dir>',
      'the dataset folder (SPair-71k/, pf-pascal/, pf-willow/, a folder of images, the root COCO file_names are relative to, the YOLO folder with data.yaml, the DeepLabCut project folder)',
    )
    .option('--name <name>', 'dataset name (default: SPair-71k, PF-Pascal, PF-Willow, the folder name, or the annotation file name)')
    .option(
      '--annotations <file>',
      "the annotation file: COCO's keypoints JSON (default: annotations.json or the only .json in the root or root/annotations/), YOLO's data.yaml (default: the root's), DeepLabCut's config.yaml (default: the root's)",
    )
    .option('--category <name>', 'folder: the new category (default: the folder name)')
    .option('--skip-invalid', 'leave invalid entries out (listed in the report) instead of importing nothing')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: { format: ImportFormat; root: string; name?: string; annotations?: string; category?: string; skipInvalid?: boolean; json?: boolean; quiet?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const task = cliTask({ quiet: opts.quiet === true });
        let report: ImportReport;
        try {
          report = await importDataset(
            store,
            {
              format: opts.format,
              root: opts.root,
              ...(opts.name === undefined ? {} : { name: opts.name }),
              ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
              ...(opts.category === undefined ? {} : { category: opts.category }),
              skipInvalid: opts.skipInvalid === true,
            },
            task,
          );
        } finally {
          task.finish();
        }
        if (opts.json) json(report);
        else out(formatReport(report));
      });
    });

  const datasets = program.command('datasets').description('datasets in the database: list, show, delete, export (COCO, YOLO pose, DeepLabCut...)');

  datasets
    .command('list')
    .description('every dataset with its counts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const list = await store.read((db) => new DatasetsRepo(db).list());
        if (opts.json) return json(list);
        if (list.length === 0) return out(`no datasets in ${store.file} (add one with \`sd4match import\`)`);
        out(
          formatTable(
            ['id', 'name', 'format', 'images', 'categories', 'pairs', 'annotations', 'root'],
            list.map((d) => [d.id, d.name, d.format, d.images, d.categories, d.pairs, d.annotations, d.root]),
          ),
        );
      });
    });

  datasets
    .command('show')
    .description("one dataset: counts per split and per category (--json adds the last import's report)")
    .argument('<dataset>', 'dataset id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const d = await store.read((db) => {
          const repo = new DatasetsRepo(db);
          return repo.details(repo.resolve(ref).id);
        });
        if (opts.json) return json(d);
        const splits = SPLITS.filter((s) => d.pairsBySplit[s] > 0).map((s) => `${s} ${n(d.pairsBySplit[s])}`);
        const lines = [
          `${d.name} (id ${d.id})`,
          `  format       ${d.format}`,
          `  root         ${d.root}`,
          ...(d.source ? [`  annotations  ${d.source}`] : []),
          `  images       ${n(d.images)}`,
          `  categories   ${n(d.categories)}`,
          `  annotations  ${n(d.annotations)} (${n(d.keypoints)} keypoints)`,
          `  pairs        ${n(d.pairs)}${splits.length ? ` (${splits.join(', ')})` : ''}${d.pairPoints ? `, ${n(d.pairPoints)} correspondences` : ''}`,
          `  created      ${when(d.createdAt)}`,
          `  updated      ${when(d.updatedAt)}`,
          '',
          formatTable(
            ['category', 'keypoints', 'images', 'annotations', 'trn', 'val', 'test'],
            d.categoryStats.map((c) => [c.name, c.keypoints, c.images, c.annotations, c.pairs.trn, c.pairs.val, c.pairs.test]),
          ),
        ];
        out(lines.join('\n'));
      });
    });

  datasets
    .command('delete')
    .description('delete a dataset and everything in it from the database (its files on disk are not touched)')
    .argument('<dataset>', 'dataset id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const result = await store.write((db) => {
          const repo = new DatasetsRepo(db);
          const d = repo.resolve(ref);
          return { dataset: { id: d.id, name: d.name, format: d.format, root: d.root }, deleted: repo.delete(d.id) };
        });
        if (opts.json) return json(result);
        const x = result.deleted;
        out(`deleted dataset '${result.dataset.name}' (id ${result.dataset.id}): ${n(x.images)} images, ${n(x.pairs)} pairs, ${n(x.annotations)} annotations, ${n(x.categories)} categories`);
      });
    });

  datasets
    .command('export')
    .description("write a dataset in an annotation tool's format (see docs/formats.md): COCO as one JSON file, YOLO pose, DeepLabCut, Label Studio and CVAT as a folder with copies of the images")
    .argument('<dataset>', 'dataset id or name')
    .addOption(new Option('--format <format>', 'export format').choices([...EXPORT_FORMATS]).makeOptionMandatory())
    .requiredOption('-o, --output <path>', 'the file (COCO) or the new or empty folder (YOLO, DeepLabCut, Label Studio, CVAT) to write')
    .option('--overwrite', 'replace an existing file, or a folder holding an earlier export in the same format')
    .option('--include-pending', 'fill in unlabelled keypoints with the pending suggestions')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { format: ExportFormat; output: string; overwrite?: boolean; includePending?: boolean; json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const result = await store.read((db) => {
          const d = new DatasetsRepo(db).resolve(ref);
          return { dataset: d.name, ...exportDataset(db, d.id, opts.format, opts.output, { overwrite: opts.overwrite === true, includePending: opts.includePending === true }) };
        });
        if (opts.json) return json(result);
        const suggested = opts.includePending ? ` of which ${n(result.suggested)} suggested` : '';
        out(
          `wrote ${result.format} ${result.target} ${result.out}: ${n(result.images)} images, ${n(result.annotations)} annotations (${n(result.keypoints)} keypoints${suggested}), ${n(result.categories)} categories`,
        );
      });
    });

  datasets
    .command('export-coco')
    .description("write a dataset's images and keypoint annotations as COCO keypoints JSON (file_name relative to the dataset root)")
    .argument('<dataset>', 'dataset id or name')
    .requiredOption('-o, --output <file>', 'the JSON file to write')
    .option('--include-pending', "fill in unlabelled keypoints with the pending suggestions (listed per annotation in 'suggested')")
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { output: string; includePending?: boolean; json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const result = await store.read((db) => {
          const d = new DatasetsRepo(db).resolve(ref);
          return { dataset: d.name, root: d.root, ...writeCocoFile(db, d.id, opts.output, { includePending: opts.includePending === true }) };
        });
        if (opts.json) return json(result);
        const suggested = opts.includePending ? ` of which ${n(result.suggested)} suggested` : '';
        out(
          `wrote ${result.file}: ${n(result.images)} images, ${n(result.annotations)} annotations (${n(result.keypoints)} keypoints${suggested}), ${n(result.categories)} categories; file_name is relative to ${result.root}`,
        );
      });
    });
}

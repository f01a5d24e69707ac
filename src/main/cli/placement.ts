/**
 * `sd4match graph placement`: where every node of one of the workstation's graphs (or of an ONNX
 * file) runs on the execution provider asked for with `--provider`, as ONNX Runtime's profiler
 * reports it (engine/onnx/placement.ts): per op type, the nodes on the provider and elsewhere,
 * then every node that fell back, with the reason it is acceptable or `NOT ACCEPTED`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../shared/errors.js';
import { acceptedFallback, type Placement, placementOf } from '../engine/onnx/placement.js';
import { resolveProviders } from '../engine/onnx/runtime.js';
import { type GraphPart, isWorkstationGraph, workstationGraph, WORKSTATION_GRAPHS } from '../engine/sd4match/graph-catalog.js';
import { inspectDinoFolder } from '../engine/sd4match/model/model-folder.js';
import { SdModel } from '../engine/sd4match/model/sd-model.js';
import { cliTask, parseIntOption } from './common.js';
import { cacheDirFor } from './models.js';

/** `name=1x3x64x64` -> [name, dims]. */
function parseShape(value: string, previous: Record<string, number[]> = {}): Record<string, number[]> {
  const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(value.trim());
  if (!m) throw new AppError('INVALID_ARGUMENT', `--shape must look like NAME=1x3x64x64, got '${value}'`);
  return { ...previous, [m[1]]: m[2].split('x').map(Number) };
}

interface PartReport {
  graph: string;
  part: string;
  provider: string;
  nodes: number;
  byOpType: Placement['byOpType'];
  fallbacks: { name: string; opType: string; provider: string; accepted: string | null }[];
}

function report(graph: string, part: string, p: Placement): PartReport {
  const fallbacks = p.nodes.filter((n) => n.provider !== p.provider).map((n) => ({ name: n.name, opType: n.opType, provider: n.provider, accepted: acceptedFallback(n) }));
  return { graph, part, provider: p.provider, nodes: p.nodes.length, byOpType: p.byOpType, fallbacks };
}

function printTable(r: PartReport): void {
  const notAccepted = r.fallbacks.filter((f) => f.accepted === null).length;
  const lines = [`${r.graph} / ${r.part} on ${r.provider}: ${r.nodes} nodes, ${r.fallbacks.length} elsewhere${notAccepted ? `, ${notAccepted} NOT ACCEPTED` : ''}`];
  lines.push(`  ${'op type'.padEnd(32)} ${r.provider.padStart(8)}  elsewhere`);
  const rows = Object.entries(r.byOpType).sort((a, b) => a[0].localeCompare(b[0]));
  for (const [op, counts] of rows) {
    const here = counts[r.provider] ?? 0;
    const other = Object.entries(counts)
      .filter(([p]) => p !== r.provider)
      .map(([p, n]) => `${n} ${p}`)
      .join(', ');
    lines.push(`  ${op.padEnd(32)} ${String(here).padStart(8)}  ${other || '-'}`);
  }
  if (r.fallbacks.length) {
    lines.push('  fell back:');
    for (const f of r.fallbacks) lines.push(`    ${f.provider.padEnd(6)} ${f.opType.padEnd(16)} ${f.name}  ${f.accepted === null ? 'NOT ACCEPTED' : `(${f.accepted})`}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Registers `graph placement` under the `graph` command. */
export function registerPlacementCommand(graph: Command): void {
  graph
    .command('placement')
    .description('which execution provider runs each node of a workstation graph (or an ONNX file): per op type, and every node that fell back')
    .argument('<model>', 'a Stable Diffusion folder (with --graph), or an ONNX file')
    .option('--graph <name>', `the workstation graph of the folder: ${WORKSTATION_GRAPHS.join(' | ')}`)
    .option('--dino-dir <dir>', 'DINOv2 folder (cpm: its width, and its own session)')
    .option('--size <S>', 'image size in pixels the graphs are built for', parseIntOption('--size'), 64)
    .option('--shape <name=AxB>', 'shape of an input an ONNX file leaves symbolic (repeat)', parseShape)
    .option('--cache-dir <dir>', 'where compiled graphs are cached')
    .option('--json', 'print JSON')
    .action(async function (this: Command, model: string, o: { graph?: string; dinoDir?: string; size: number; shape?: Record<string, number[]>; cacheDir?: string; json?: boolean }) {
      if (!fs.existsSync(model)) throw new AppError('NOT_FOUND', `${model}: no such file or folder`);
      const isDir = fs.statSync(model).isDirectory();
      if (o.graph !== undefined && !isWorkstationGraph(o.graph)) throw new AppError('INVALID_ARGUMENT', `unknown graph '${o.graph}' (--graph); expected one of: ${WORKSTATION_GRAPHS.join(', ')}`);
      if (isDir && o.graph === undefined) throw new AppError('INVALID_ARGUMENT', `${model} is a folder: say which of its graphs with --graph (${WORKSTATION_GRAPHS.join(', ')})`);
      if (!isDir && o.graph !== undefined) throw new AppError('INVALID_ARGUMENT', `--graph needs a Stable Diffusion folder; ${model} is a file`);
      const { provider } = await resolveProviders();
      const reports: PartReport[] = [];
      if (!isDir) {
        reports.push(report(path.basename(model), 'model', await placementOf(model, provider, { shapes: o.shape })));
      } else {
        const task = cliTask({ quiet: o.json });
        let sd: SdModel | null = null;
        try {
          // the graphs as they are built for this provider (their attention form depends on it)
          sd = SdModel.open(model, { cacheDir: cacheDirFor(this, o.cacheDir), task, providers: [provider] });
          await sd.plannedProvider();
          const dino = o.dinoDir ? inspectDinoFolder(o.dinoDir, { inferWidth: true }) : null;
          const parts: GraphPart[] = workstationGraph(sd, o.graph!, { size: o.size, dino });
          for (const part of parts) reports.push(report(o.graph!, part.label, await placementOf(part.model, provider, { session: part.session, shapes: part.shapes, feeds: part.feeds })));
        } finally {
          await sd?.dispose();
          task.finish();
        }
      }
      if (o.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
      else for (const r of reports) printTable(r);
    });
}

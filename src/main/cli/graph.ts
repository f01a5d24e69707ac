/** `sd4match graph ...`: ONNX graph tools over .npy tensors (info, scopes, tap, cut, run, vjp). */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../shared/errors.js';
import { npyFileName, readNpy, writeNpy } from '../engine/io/npy.js';
import { runModel, runVjp } from '../engine/graph/run.js';
import { type HostTensor, type Model, tensorByteLength } from '../engine/onnx/ir.js';
import { loadModel, saveModel } from '../engine/onnx/model-io.js';
import { listScopes } from '../engine/onnx/scopes.js';
import { cut, tap } from '../engine/onnx/transforms.js';
import { defaultOpset } from '../engine/onnx/ir.js';
import { registerPlacementCommand } from './placement.js';

function describeShape(shape: (number | string | null)[] | null): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : '[?]';
}

export function modelSummary(model: Model) {
  const ops: Record<string, number> = {};
  for (const n of model.graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  let inlineBytes = 0;
  let externalBytes = 0;
  const externalFiles = new Set<string>();
  for (const t of model.graph.initializers.values()) {
    if (t.data.kind === 'external') {
      externalBytes += t.data.length;
      externalFiles.add(t.data.file);
    } else if (t.data.kind === 'bytes') inlineBytes += tensorByteLength(t);
  }
  return {
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    irVersion: model.irVersion,
    opset: defaultOpset(model),
    opsets: model.opsets,
    inputs: model.graph.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
    outputs: model.graph.outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: o.shape })),
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.size,
    weightBytes: { inline: inlineBytes, external: externalBytes },
    externalFiles: [...externalFiles],
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1])),
  };
}

/** Reads `DIR/<input>.npy` for every graph input. */
export function readInputs(model: Model, dir: string): Record<string, HostTensor> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new AppError('NOT_FOUND', `${dir}: no such directory`);
  const feeds: Record<string, HostTensor> = {};
  for (const input of model.graph.inputs) {
    const file = path.join(dir, npyFileName(input.name));
    if (!fs.existsSync(file)) {
      throw new AppError('NOT_FOUND', `${file} is missing: the graph needs input '${input.name}' (${input.dtype} ${describeShape(input.shape)})`);
    }
    const t = readNpy(file);
    if (t.dtype !== input.dtype) throw new AppError('NPY_INVALID', `${file}: input '${input.name}' must be ${input.dtype}, got ${t.dtype}`);
    if (input.shape && input.shape.length !== t.dims.length) {
      throw new AppError('NPY_INVALID', `${file}: input '${input.name}' must have shape ${describeShape(input.shape)}, got [${t.dims.join(', ')}]`);
    }
    feeds[input.name] = t;
  }
  return feeds;
}

function writeOutputs(dir: string, tensors: Record<string, HostTensor>, rename: (name: string) => string = (n) => n): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, t] of Object.entries(tensors)) {
    const file = path.join(dir, npyFileName(rename(name)));
    writeNpy(file, t);
    process.stdout.write(`wrote ${file} ${t.dtype} [${t.dims.join(', ')}]\n`);
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

export function registerGraphCommands(program: Command): void {
  const graph = program.command('graph').description('ONNX graph tools: inspect, tap and cut module scopes, run, and vector-Jacobian products');

  graph
    .command('info')
    .description('inputs, outputs, opset, weights and op counts of a model')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const s = modelSummary(loadModel(file));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const lines = [
        `model     ${file}`,
        `producer  ${s.producer || '-'} (IR ${s.irVersion}, opset ${s.opset})`,
        `nodes     ${s.nodes}, initializers ${s.initializers} (${mb(s.weightBytes.inline)} inline, ${mb(s.weightBytes.external)} external${s.externalFiles.length ? ` in ${s.externalFiles.map((f) => path.basename(f)).join(', ')}` : ''})`,
        'inputs',
        ...s.inputs.map((i) => `  ${i.name}  ${i.dtype} ${describeShape(i.shape)}`),
        'outputs',
        ...s.outputs.map((o) => `  ${o.name}  ${o.dtype} ${describeShape(o.shape)}`),
        'ops',
        ...Object.entries(s.ops).map(([op, n]) => `  ${op.padEnd(24)} ${n}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  graph
    .command('scopes')
    .description('module scopes of a model (from TorchScript node names or dynamo namespace metadata)')
    .argument('<model>', 'ONNX model file')
    .option('--depth <n>', 'only scopes up to this many components', (v) => Number(v))
    .action((file: string, opts: { depth?: number }) => {
      const scopes = listScopes(loadModel(file).graph);
      for (const [s, n] of scopes) {
        if (opts.depth && s.split('.').filter((p) => !/^\d+$/.test(p)).length > opts.depth) continue;
        process.stdout.write(`${s}  (${n} nodes)\n`);
      }
    });

  graph
    .command('tap')
    .description("make a module's output the graph's only output (what it does not need is pruned)")
    .argument('<model>', 'ONNX model file')
    .requiredOption('--module <scope>', 'module scope, e.g. up_blocks.1')
    .requiredOption('-o, --out <file>', 'output ONNX file')
    .option('--output-name <name>', 'name of the new graph output (default: the scope)')
    .action((file: string, opts: { module: string; out: string; outputName?: string }) => {
      const model = loadModel(file);
      const r = tap(model, opts.module, opts.outputName ?? opts.module);
      saveModel(r.model, opts.out);
      process.stdout.write(`tapped '${r.scope}' (tensor ${r.tensor}) as output '${r.outputName}': ${r.model.graph.nodes.length} of ${model.graph.nodes.length} nodes kept\nwrote ${opts.out}\n`);
    });

  graph
    .command('cut')
    .description("make a module's output a new float input (what fed it is pruned)")
    .argument('<model>', 'ONNX model file')
    .requiredOption('--module <scope>', 'module scope, e.g. embeddings')
    .requiredOption('--as-input <name>', 'name of the new graph input, e.g. inputs_embeds')
    .requiredOption('-o, --out <file>', 'output ONNX file')
    .action((file: string, opts: { module: string; asInput: string; out: string }) => {
      const model = loadModel(file);
      const r = cut(model, opts.module, opts.asInput);
      saveModel(r.model, opts.out);
      const input = r.model.graph.inputs.find((i) => i.name === r.inputName)!;
      process.stdout.write(`cut '${r.scope}' (tensor ${r.tensor}): new input '${r.inputName}' ${input.dtype} ${describeShape(input.shape)}\n`);
      for (const d of r.dropped) process.stdout.write(`dropped output '${d.output}': it needs ${d.needs.join(', ')}\n`);
      process.stdout.write(`wrote ${opts.out}\n`);
    });

  graph
    .command('run')
    .description('run a model on .npy inputs (DIR/<input>.npy) and write <output>.npy files')
    .argument('<model>', 'ONNX model file')
    .requiredOption('--inputs <dir>', 'folder holding <input>.npy for every graph input')
    .requiredOption('--out <dir>', 'folder for <output>.npy')
    .action(async (file: string, opts: { inputs: string; out: string }) => {
      const model = loadModel(file);
      const feeds = readInputs(model, opts.inputs);
      const outputs = await runModel(model, feeds);
      writeOutputs(opts.out, outputs);
    });

  graph
    .command('vjp')
    .description('outputs and d<output, cotangent>/d input in one run; writes <output>.npy and grad_<input>.npy')
    .argument('<model>', 'ONNX model file')
    .requiredOption('--wrt <input>', 'float input to differentiate (repeat or comma-separate for several)', collect)
    .requiredOption('--cotangent <file>', '.npy with the shape of the output')
    .requiredOption('--inputs <dir>', 'folder holding <input>.npy for every graph input')
    .requiredOption('--out <dir>', 'folder for the results')
    .option('--output <name>', 'the output to differentiate (default: the only output)')
    .action(async (file: string, opts: { wrt: string[]; cotangent: string; inputs: string; out: string; output?: string }) => {
      const model = loadModel(file);
      const feeds = readInputs(model, opts.inputs);
      const cot = readNpy(opts.cotangent);
      const r = await runVjp(model, feeds, cot, { wrt: opts.wrt, output: opts.output });
      writeOutputs(opts.out, r.outputs);
      writeOutputs(opts.out, r.grads, (w) => `grad_${w}`);
    });

  registerPlacementCommand(graph);
}

function mb(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * Where every node of the workstation's graphs runs, as ONNX Runtime's profiler reports it
 * (engine/onnx/placement.ts), on the tiny fixture models: on the CPU provider every node runs on
 * the CPU; on WebGPU (a GPU, or Mesa's lavapipe) every node of an arithmetic op type
 * (`GPU_OP_TYPES`: convolutions, matrix products, attention, normalisation, softmax, elementwise)
 * runs on WebGPU unless `acceptedFallback` gives the reason it may not (copies ONNX Runtime
 * inserts, shape reads, integer index arithmetic). A failure lists the offending nodes by name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../src/main/engine/onnx/ir.js';
import { offendersOf, placementOf } from '../../src/main/engine/onnx/placement.js';
import { type GraphPart, workstationGraph, WORKSTATION_GRAPHS } from '../../src/main/engine/sd4match/graph-catalog.js';
import { type DinoFolder, inspectDinoFolder } from '../../src/main/engine/sd4match/model/model-folder.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { webgpuEnv, webgpuUnavailable } from '../helpers/webgpu.js';

// one line says why the WebGPU half is skipped (the fixtures helper says it for missing fixtures)
const noWebgpu = HAVE_FIXTURES ? await webgpuUnavailable() : 'no fixtures';

let work: string;
let sd: SdModel;
let dino: DinoFolder;

beforeAll(() => {
  if (!HAVE_FIXTURES) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-placement-'));
  sd = SdModel.open(modelPath('sd'), { cacheDir: path.join(work, 'cache') });
  dino = inspectDinoFolder(modelPath('dinov2'), { inferWidth: true });
});
afterAll(async () => {
  await sd?.dispose();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const parts = (graph: string): GraphPart[] => workstationGraph(sd, graph, { dino });

describe.skipIf(!HAVE_FIXTURES)('on the CPU provider', () => {
  for (const graph of WORKSTATION_GRAPHS) {
    it(`${graph}: every node runs on the CPU`, async () => {
      for (const part of parts(graph)) {
        const p = await placementOf(part.model, 'cpu', part);
        expect(p.provider).toBe('cpu');
        expect(p.nodes.length, part.label).toBeGreaterThan(0);
        expect(p.nodes.filter((n) => n.provider !== 'cpu').map((n) => `${part.label}: ${n.opType} ${n.name} on ${n.provider}`)).toEqual([]);
      }
    });
  }
});

describe.skipIf(!HAVE_FIXTURES)('graphs built for the provider they are listed on', () => {
  it('on the CPU, once the model knows it, every attention core of the generation UNet is fused', async () => {
    const cpu = SdModel.open(modelPath('sd'), { cacheDir: path.join(work, 'cache'), providers: ['cpu'] });
    try {
      await cpu.plannedProvider();
      const [part] = workstationGraph(cpu, 'generate-unet', { attention: { mode: 'fused', minBytes: 0 } });
      const ops = (part.model as Model).graph.nodes.map((n) => n.opType);
      // not WebGPU's form (blocked cores of 32 queries and more, attention-webgpu.ts)
      expect(ops.includes('MultiHeadAttention') && !ops.includes('Softmax')).toBe(true);
    } finally {
      await cpu.dispose();
    }
  });
});

describe.skipIf(noWebgpu !== null)('on the WebGPU provider', () => {
  for (const graph of WORKSTATION_GRAPHS) {
    it(`${graph}: every node of an arithmetic op type runs on WebGPU`, async () => {
      const offenders: string[] = [];
      for (const part of parts(graph)) {
        const p = await placementOf(part.model, 'webgpu', part);
        expect(p.provider).toBe('webgpu');
        expect(
          p.nodes.some((n) => n.provider === 'webgpu'),
          part.label,
        ).toBe(true);
        offenders.push(...offendersOf(p).map((n) => `${part.label}: ${n.opType} ${n.name} on ${n.provider}`));
      }
      expect(offenders).toEqual([]);
    });
  }

  // The tiny graphs' attention is below the rewrite's threshold: rewrite it anyway, as a
  // full-size model's is, so that the fused and blocked forms are placed too.
  const ATTENTION_GRAPHS = ['features', 'train-step', 'generate-unet', 'generate-decoder'] as const;
  const VARIANTS = [
    { label: 'fused attention (com.microsoft.MultiHeadAttention)', attention: { mode: 'fused' as const, minBytes: 0 } },
    { label: 'blocked attention, a few query blocks per core', attention: { mode: 'blocked' as const, minBytes: 0, blockBytes: 16384 } },
    // one query row per block: MAX_QUERY_BLOCKS (16) blocks per core, as large images get
    { label: 'blocked attention, 16 query blocks per core', attention: { mode: 'blocked' as const, minBytes: 0, blockBytes: 1 } },
  ];
  for (const v of VARIANTS) {
    it(`${v.label}: every node of an arithmetic op type runs on WebGPU`, async () => {
      const offenders: string[] = [];
      const fusedIn: string[] = [];
      for (const graph of ATTENTION_GRAPHS) {
        // rewritten for WebGPU: fused where its MultiHeadAttention is exact (fewer than 32 queries), blocked elsewhere
        for (const part of workstationGraph(sd, graph, { dino, attention: { ...v.attention, provider: 'webgpu' } })) {
          if (part.label === 'vae-encoder' || part.label === 'embed' || part.label === 'text-encoder') continue; // no rewrite there
          const nodes = typeof part.model === 'string' ? [] : part.model.graph.nodes;
          expect(nodes.filter((n) => n.opType === 'Scan' || n.opType === 'Loop').length, `${part.label}: control flow`).toBe(0);
          if (part.label === 'train-step')
            expect(
              nodes.some((n) => n.opType === 'Softmax' && n.name.includes('_Grad')),
              'train-step: attention recomputed per block',
            ).toBe(true);
          const p = await placementOf(part.model, 'webgpu', part);
          if (p.nodes.some((n) => n.opType === 'MultiHeadAttention' && n.provider === 'webgpu')) fusedIn.push(part.label);
          offenders.push(...offendersOf(p).map((n) => `${part.label}: ${n.opType} ${n.name} on ${n.provider}`));
        }
      }
      expect(offenders).toEqual([]);
      if (v.attention.mode === 'fused') expect(fusedIn.length, 'graphs with MultiHeadAttention on WebGPU').toBeGreaterThan(0);
      else expect(fusedIn).toEqual([]);
    });
  }

  it('graph placement through the CLI: per op type, on WebGPU and elsewhere, and every node that fell back with its reason', async () => {
    const r = await runCli(['--db', path.join(work, 'cli.db'), '--provider', 'webgpu', 'graph', 'placement', modelPath('sd'), '--graph', 'match', '--json'], { env: webgpuEnv() });
    expect(r.code, r.stderr).toBe(0);
    const [report] = JSON.parse(r.stdout) as {
      graph: string;
      part: string;
      provider: string;
      byOpType: Record<string, Record<string, number>>;
      fallbacks: { name: string; accepted: string | null }[];
    }[];
    expect(report).toMatchObject({ graph: 'match', part: 'match', provider: 'webgpu' });
    expect(report.byOpType.MatMul).toEqual({ webgpu: 4 });
    expect(report.byOpType.Softmax).toEqual({ webgpu: 2 });
    expect(report.fallbacks.filter((f) => f.accepted === null)).toEqual([]);
  });
});

describe.skipIf(!HAVE_FIXTURES)('graph placement from the CLI', () => {
  it('prints a table per session of the graph: op types on the provider and elsewhere', async () => {
    const r = await runCli(['--db', path.join(work, 'cli.db'), '--provider', 'cpu', 'graph', 'placement', modelPath('sd'), '--graph', 'cpm', '--dino-dir', modelPath('dinov2')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^cpm \/ dinov2 on cpu: \d+ nodes, 0 elsewhere$/m);
    expect(r.stdout).toMatch(/^cpm \/ cpm-forward on cpu: \d+ nodes, 0 elsewhere$/m);
    expect(r.stdout).toMatch(/^cpm \/ cpm-vjp on cpu: \d+ nodes, 0 elsewhere$/m);
    expect(r.stdout).toMatch(/^ {2}MatMul +\d+ {2}-$/m);
  });

  it('rejects a graph name it does not know, naming the ones it does', async () => {
    const r = await runCli(['--db', path.join(work, 'cli.db'), 'graph', 'placement', modelPath('sd'), '--graph', 'unet']);
    expectCleanFailure(r, /unknown graph 'unet' \(--graph\); expected one of: features, train-step, text-vjp, cpm, generate-unet, generate-decoder, match$/);
  });

  it('says a model folder that is not there is missing, and a folder needs --graph', async () => {
    const missing = path.join(work, 'no-such-model');
    expectCleanFailure(await runCli(['--db', path.join(work, 'cli.db'), 'graph', 'placement', missing, '--graph', 'features']), new RegExp(`${missing}: no such file or folder$`));
    expectCleanFailure(await runCli(['--db', path.join(work, 'cli.db'), 'graph', 'placement', modelPath('sd')]), /is a folder: say which of its graphs with --graph/);
  });
});

/**
 * SD + DINOv2 features end to end on the tiny fixture models: the pipeline the evaluation builds
 * (createPipeline) with `sd+dino` at w = 1 matches as SD alone and at w = 0 as `dino` (DINOv2
 * resampled to the SD grid), within 1e-3 px, for every matching method; a weight in between is
 * neither; and `eval --features / --fusion-weight` through the CLI, with the stored run saying
 * which features it used.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorCache } from '../../src/main/engine/cache/tensor-cache.js';
import type { SuggestEvalReport } from '../../src/main/contract/index.js';
import type { EvalReport } from '../../src/main/engine/sd4match/matching/evaluate.js';
import { createPipeline, type FeatureChoice, FeaturePipeline } from '../../src/main/engine/sd4match/features/fusion.js';
import { MATCH_METHODS, matchKeypoints } from '../../src/main/engine/sd4match/matching/matching.js';
import { inspectDinoFolder } from '../../src/main/engine/sd4match/model/model-folder.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { SessionCache } from '../../src/main/engine/onnx/session-cache.js';
import { openServices } from '../../src/main/services/app/context.js';
import { createApi } from '../../src/main/api/handlers.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient } from '../../src/main/transport/in-memory.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';
import { ok, waitFor } from '../helpers/waiting.js';
import { genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedPairs, type ShiftedPair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sdDir: string;
const dinoDir = modelPath('dinov2');
// 384 px: a 24 x 24 SD feature grid, so DINOv2's 16 x 16 grid is really resampled
const SIZE = 384;

describe.skipIf(!HAVE_FIXTURES)('SD + DINOv2 features', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-fusion-'));
    db = path.join(dir, 'ws.db');
    sdDir = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await genSpair(path.join(dir, 'spair'), { categories: ['cat'], imagesPerCategory: 3, pairs: { trn: 2, val: 1, test: 3 }, size: [64, 160] });
    const r = await runCli(['--db', db, 'import', '--format', 'spair', '--root', path.join(dir, 'spair'), '--name', 'spair', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('matches through the pipeline', () => {
    let sd: SdModel;
    let pairs: ShiftedPair[];
    const sessions = new SessionCache(4);

    beforeAll(async () => {
      sd = SdModel.open(sdDir, { cacheDir: path.join(dir, 'cache') });
      pairs = await writeShiftedPairs(path.join(dir, 'shifted'), 2, { size: 160, points: 12, seed: 11 });
    }, 120_000);
    afterAll(async () => {
      await sessions.clear();
      await sd?.dispose();
    });

    /** Every method's matches (resized frame, px) on every pair under a feature choice. */
    async function matchesWith(choice: FeatureChoice | undefined): Promise<Record<string, number[]>> {
      const pipe = createPipeline(sd, { kind: 'empty' }, { size: SIZE, timestep: 261, ensemble: 2, seed: 0 }, new TensorCache(path.join(dir, 'tensors')), inspectDinoFolder(dinoDir), choice);
      const out: Record<string, number[]> = Object.fromEntries(MATCH_METHODS.map((m) => [m, []]));
      try {
        for (const [i, p] of pairs.entries()) {
          const ref = (file: string, k: string) => ({ file, key: `${k}-${i}`, width: p.width, height: p.height });
          const f = await pipe.pairFeatures(ref(p.src, 'src'), ref(p.trg, 'trg'), p.category);
          const kps = Float32Array.from(p.srcKps.flatMap(([x, y]) => [(x * SIZE) / p.width, (y * SIZE) / p.height]));
          const frame = { h: SIZE, w: SIZE };
          const res = await matchKeypoints(sessions, { srcFeatures: f.src, trgFeatures: f.trg, srcKps: kps, N: p.srcKps.length, srcFrame: frame, trgFrame: frame }, MATCH_METHODS);
          for (const m of MATCH_METHODS) out[m].push(...res.matches[m]!);
        }
      } finally {
        await pipe.dispose();
      }
      return out;
    }

    function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
      let d = 0;
      for (const m of MATCH_METHODS) a[m].forEach((v, i) => (d = Math.max(d, Math.abs(v - b[m][i]))));
      return d;
    }

    it('sd+dino at w = 1 is SD alone and at w = 0 is DINOv2 alone (within 1e-3 px); w = 0.5 is neither', async () => {
      const sdAlone = await matchesWith(undefined);
      const dinoAlone = await matchesWith({ features: 'dino', weight: 0.5 });
      expect(maxDiff(await matchesWith({ features: 'sd+dino', weight: 1 }), sdAlone)).toBeLessThanOrEqual(1e-3);
      expect(maxDiff(await matchesWith({ features: 'sd+dino', weight: 0 }), dinoAlone)).toBeLessThanOrEqual(1e-3);
      const fused = await matchesWith({ features: 'sd+dino', weight: 0.5 });
      expect(maxDiff(fused, sdAlone)).toBeGreaterThan(1);
      expect(maxDiff(fused, dinoAlone)).toBeGreaterThan(1);
      expect(maxDiff(sdAlone, dinoAlone)).toBeGreaterThan(1);
    }, 300_000);

    it('the fused map is [w·n(sd), (1-w)·n(dino on the SD grid)]: SD channels then DINOv2 channels, on the SD grid', async () => {
      const pipe = createPipeline(sd, { kind: 'empty' }, { size: SIZE, timestep: 261, ensemble: 2, seed: 0 }, new TensorCache(path.join(dir, 'tensors')), inspectDinoFolder(dinoDir), {
        features: 'sd+dino',
        weight: 0.25,
      }) as FeaturePipeline;
      const img = { file: pairs[0].src, key: 'src-0', width: pairs[0].width, height: pairs[0].height };
      const f = (await pipe.pairFeatures(img, img, 'object')).src;
      expect(pipe.sdGrid()).toEqual([24, 24]);
      // tiny SD features are 32 wide, tiny DINOv2 32 wide
      expect(f.dims).toEqual([1, 64, 24, 24]);
      const hw = 24 * 24;
      const d = f.data as Float32Array;
      for (const p of [0, 100, hw - 1]) {
        let sdNorm = 0;
        let dinoNorm = 0;
        for (let c = 0; c < 32; c++) sdNorm += d[c * hw + p] ** 2;
        for (let c = 32; c < 64; c++) dinoNorm += d[c * hw + p] ** 2;
        expect(Math.sqrt(sdNorm)).toBeCloseTo(0.25, 5);
        expect(Math.sqrt(dinoNorm)).toBeCloseTo(0.75, 5);
      }
      expect(pipe.label).toBe('SD+DINOv2 (w=0.25), empty prompt');
      await pipe.dispose();
    }, 120_000);
  });

  describe('eval --features', () => {
    async function evalJson(args: string[]): Promise<{ code: number; stderr: string; stdout: string; report: EvalReport & { runId: number } }> {
      const out = path.join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
      const r = await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--size', String(SIZE), '--ensemble', '2', '--methods', 'kernelsoftmax,nn', '--json', out, ...args]);
      return { ...r, report: r.code === 0 ? JSON.parse(fs.readFileSync(out, 'utf8')) : null };
    }

    /** Per pair and method, the mean error in px of the resized frame (error is in θ units). */
    function errors(r: EvalReport): number[] {
      return r.perPair.flatMap((p) => r.methods.map((m) => p.error[m]));
    }

    it('w = 1 evaluates as SD, w = 0 as dino; the report and the stored run name the features', async () => {
      const sd = await evalJson(['--features', 'sd']);
      expect(sd.code, sd.stderr).toBe(0);
      const w1 = await evalJson(['--features', 'sd+dino', '--fusion-weight', '1', '--dino-dir', dinoDir]);
      expect(w1.code, w1.stderr).toBe(0);
      const dino = await evalJson(['--features', 'dino', '--dino-dir', dinoDir]);
      expect(dino.code, dino.stderr).toBe(0);
      const w0 = await evalJson(['--features', 'sd+dino', '--fusion-weight', '0', '--dino-dir', dinoDir]);
      expect(w0.code, w0.stderr).toBe(0);
      const half = await evalJson(['--features', 'sd+dino', '--dino-dir', dinoDir]);
      expect(half.code, half.stderr).toBe(0);

      // errors are in θ units; θ ≤ SIZE, so 1e-3 px is at least 1e-3 / SIZE of them
      const tol = 1e-3 / SIZE;
      errors(w1.report).forEach((e, i) => expect(Math.abs(e - errors(sd.report)[i])).toBeLessThanOrEqual(tol));
      errors(w0.report).forEach((e, i) => expect(Math.abs(e - errors(dino.report)[i])).toBeLessThanOrEqual(tol));
      expect(errors(half.report)).not.toEqual(errors(sd.report));

      expect(sd.report.prompt).toBe('empty prompt');
      expect(dino.report.prompt).toBe('DINOv2 (SD grid)');
      expect(half.report.prompt).toBe('SD+DINOv2 (w=0.5), empty prompt');
      expect(half.stdout).toMatch(/^SD\+DINOv2 \(w=0\.5\), empty prompt: 3 pairs/m);

      const svc = openServices(db);
      try {
        const run = svc.repos.runs.get(half.report.runId)!;
        expect(run.name).toBe('SD+DINOv2 (w=0.5), empty prompt on spair/test');
        expect(run.config).toMatchObject({ features: 'sd+dino', fusionWeight: 0.5, method: 'SD+DINOv2 (w=0.5), empty prompt', prompt: 'empty prompt' });
        expect(svc.repos.runs.get(sd.report.runId)!.config).toMatchObject({ features: 'sd', fusionWeight: null });
        expect(svc.repos.runs.get(dino.report.runId)!.config).toMatchObject({ features: 'dino', fusionWeight: null, method: 'DINOv2 (SD grid)' });
      } finally {
        svc.close();
      }
    }, 600_000);

    it('suggest-eval --features: the report names the features; w = 1 scores as SD alone; no DINOv2 folder is refused', async () => {
      const run = async (args: string[]) => {
        const out = path.join(dir, `suggest-${Math.random().toString(36).slice(2)}.json`);
        const common = ['--db', db, 'suggest-eval', '--model-dir', sdDir, '--dataset', 'spair', '--category', 'cat', '--exemplars', '1', '--limit', '2', '--size', '256', '--ensemble', '1'];
        const r = await runCli([...common, '--json', out, ...args]);
        expect(r.code, r.stderr).toBe(0);
        return (JSON.parse(fs.readFileSync(out, 'utf8')) as { reports: SuggestEvalReport[] }).reports[0];
      };
      const sd = await run([]);
      const w1 = await run(['--features', 'sd+dino', '--fusion-weight', '1', '--dino-dir', dinoDir]);
      const half = await run(['--features', 'sd+dino', '--dino-dir', dinoDir]);
      expect(sd.prompt).toBe('empty prompt');
      expect(half.prompt).toBe('SD+DINOv2 (w=0.5), empty prompt');
      expect(w1.pck).toEqual(sd.pck);
      expect(w1.perKeypoint.map((k) => k.meanConfidence)).toEqual(sd.perKeypoint.map((k) => k.meanConfidence));
      expectCleanFailure(
        await runCli(['--db', db, 'suggest-eval', '--model-dir', sdDir, '--dataset', 'spair', '--category', 'cat', '--exemplars', '1', '--features', 'dino']),
        /--features dino needs a DINOv2 model folder/,
      );
    }, 300_000);

    it('refuses DINOv2 features without a DINOv2 folder, a weight outside [0, 1], and the fusion on the DINOv2 baseline, before any work', async () => {
      const t0 = Date.now();
      expectCleanFailure(await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--features', 'sd+dino']), /--features sd\+dino needs a DINOv2 model folder \(--dino-dir/);
      expectCleanFailure(await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--features', 'dino']), /--features dino needs a DINOv2 model folder/);
      expectCleanFailure(
        await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--features', 'sd+dino', '--fusion-weight', '1.5', '--dino-dir', dinoDir]),
        /the fusion weight must be a number from 0 to 1, got 1\.5/,
      );
      expectCleanFailure(
        await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--features', 'sd+dino', '--prompt', 'dino', '--dino-dir', dinoDir]),
        /takes its SD part from a prompt/,
      );
      expectCleanFailure(await runCli(['--db', db, 'eval', '--model-dir', sdDir, '--dataset', 'spair', '--features', 'clip']), /--features must be one of sd, dino, sd\+dino, got 'clip'/);
      expect(Date.now() - t0).toBeLessThan(60_000);
    }, 120_000);
  });
  describe('the API: evaluations, the PCK table and Compare', () => {
    it('evals:start with features; the table has a row per prompt and feature choice; compare:predict at w = 1 is SD alone', async () => {
      const apiDb = path.join(dir, 'api.db');
      const store = Store.open(apiDb);
      let datasetId: number;
      let modelId: number;
      let dinoModelId: number;
      try {
        datasetId = (await importDataset(store, { format: 'spair', root: path.join(dir, 'spair'), name: 'spair' })).datasetId;
        modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sdDir }).id;
        dinoModelId = repos(store.db).models.upsert({ name: 'tiny dino', kind: 'dinov2', folder: dinoDir }).id;
      } finally {
        store.close();
      }
      const api = createApi({ db: apiDb });
      const client = createInMemoryClient(api);
      try {
        const empty = ok(await client.invoke('prompts:list', {})).find((p) => p.name === 'empty prompt')!;
        const settings = { modelId, size: 256, ensemble: 1 };
        const refused = await client.invoke('evals:start', { ...settings, datasetId, promptId: empty.id, features: 'sd+dino' });
        expect(refused).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: 'SD+DINOv2 (w=0.5), empty prompt needs a DINOv2 model: choose one' } });
        for (const features of [{}, { features: 'sd+dino' as const, dinoModelId }, { features: 'sd+dino' as const, fusionWeight: 0.25, dinoModelId }]) {
          const { jobId } = ok(await client.invoke('evals:start', { ...settings, datasetId, promptId: empty.id, ...features }));
          await waitFor(async () => {
            const j = ok(await client.invoke('jobs:list')).find((x) => x.id === jobId)!;
            if (j.state === 'failed') throw new Error(j.error!.message);
            return j.state === 'completed' ? true : undefined;
          });
        }
        const table = ok(await client.invoke('evals:table', { datasetId }));
        expect(table.rows.map((r) => r.prompt).sort()).toEqual(['SD+DINOv2 (w=0.25), empty prompt', 'SD+DINOv2 (w=0.5), empty prompt', 'empty prompt']);
        const csv = ok(await client.invoke('evals:csv', { datasetId }));
        expect(csv.csv).toContain('"SD+DINOv2 (w=0.5), empty prompt",');

        const pairs = ok(await client.invoke('compare:pairs', { datasetId }));
        const pairId = pairs.pairs[0].id;
        const predict = async (extra: Record<string, unknown>) => ok(await client.invoke('compare:predict', { pairId, promptIds: [empty.id], ...settings, ...extra })).predictions[0];
        const sdAlone = await predict({});
        const w1 = await predict({ features: 'sd+dino', fusionWeight: 1, dinoModelId });
        const half = await predict({ features: 'sd+dino', dinoModelId });
        expect(sdAlone.prompt).toBe('empty prompt');
        expect(half.prompt).toBe('SD+DINOv2 (w=0.5), empty prompt');
        w1.matches.forEach(([x, y], i) => {
          expect(Math.abs(x - sdAlone.matches[i][0])).toBeLessThanOrEqual(1e-3);
          expect(Math.abs(y - sdAlone.matches[i][1])).toBeLessThanOrEqual(1e-3);
        });
        const heat = ok(await client.invoke('compare:heatmap', { pairId, promptIds: [empty.id], point: [10, 10], ...settings, features: 'dino', dinoModelId })).heatmaps[0];
        // DINOv2 on the SD grid: 256 px gives the tiny model's 16 x 16 grid
        expect([heat.width, heat.height]).toEqual([16, 16]);
      } finally {
        client.close();
        await api.close();
      }
    }, 300_000);
  });
});

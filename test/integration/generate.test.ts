/**
 * Generation and timestep sweeps with the tiny fixture Stable Diffusion model (a tokenizer added),
 * real job processes, ONNX Runtime and a SQLite file, through the in-memory API and the CLI.
 *
 * What is shown: a gallery of two sources x two seeds is generated as one job, each image stored
 * (PNG file + row) and announced, and equal to the engine's own sampling of the same seed and
 * prompts (whose parity with diffusers generate-fixtures.test.ts shows); asking again is served
 * from the store; learned Single, Class and CPM prompts generate; a running generation is
 * cancelled and keeps only finished images; bad input is refused before anything runs and
 * nothing is stored; a sweep stores one evaluation per prompt and timestep and reads back as PCK
 * against t, without entering the PCK table; the CLI writes PNGs and sweeps.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedImage } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { Generator } from '../../src/main/engine/sd4match/generation/generate.js';
import { promptHiddenStates } from '../../src/main/engine/sd4match/prompts/prompts.js';
import { Rng } from '../../src/main/engine/sd4match/features/random.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { openServices } from '../../src/main/services/app/context.js';
import { storeLearnedPrompt } from '../../src/main/services/runs/records.js';
import { loadLearnedPrompt } from '../../src/main/engine/sd4match/prompts/prompts.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { resolveImage } from '../../src/main/transport/image-route.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writePromptFile } from '../helpers/prompt-files.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { snapshotDb } from '../helpers/store-snapshot.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let sd: string;
let api: Api;
let client: InMemoryClient;
const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

/** The tiny model at 128 px (16 x 16 latents): quick. */
const SIZE = 128;
const STEPS = 3;
let modelId: number;
let noDecoderId: number;
let dinoId: number;
let datasetId: number;
let pairId: number;
let modelHash: string;
const prompts: Record<string, number> = {};

describe.skipIf(!HAVE_FIXTURES)('generation from prompts and timestep sweeps', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-gen-'));
    db = path.join(dir, 'ws.db');
    sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    const noDecoder = path.join(dir, 'sd-no-decoder');
    fs.cpSync(sd, noDecoder, { recursive: true });
    fs.rmSync(path.join(noDecoder, 'vae_decoder'), { recursive: true });
    const store = Store.open(db);
    try {
      const r = repos(store.db);
      modelId = r.models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
      noDecoderId = r.models.upsert({ name: 'tiny without decoder', kind: 'stable-diffusion', folder: noDecoder }).id;
      dinoId = r.models.upsert({ name: 'dino', kind: 'dinov2', folder: modelPath('dinov2') }).id;
    } finally {
      store.close();
    }
    const m = SdModel.open(sd, { cacheDir: path.join(dir, 'hash-cache') });
    modelHash = m.compiled.modelHash;
    await m.dispose();
    await writeShiftedSpair(path.join(dir, 'spair'), 6, 0, { categories: ['cat', 'dog'], size: 96 });
    api = createApi({ db });
    client = createInMemoryClient(api);
    const { jobId } = await ok('datasets:import', { format: 'spair', root: path.join(dir, 'spair'), name: 'spair' });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    datasetId = (job.result as { datasetId: number }).datasetId;
    pairId = (await ok('compare:pairs', { datasetId, split: 'val' })).pairs[0]!.id;
    for (const p of await ok('prompts:list', {})) prompts[p.name] = p.id;
    const svc = openServices(db);
    try {
      const kinds: ['single' | 'class' | 'cpm', { categories?: string[]; dino?: number }][] = [
        ['single', {}],
        ['class', { categories: ['cat', 'dog'] }],
        ['cpm', { dino: 32 }],
      ];
      for (const [kind, extra] of kinds) {
        const file = path.join(dir, `${kind}.safetensors`);
        writePromptFile(file, kind, { modelHash, imageSize: 256, hidden: 32, ...extra });
        prompts[kind] = await storeLearnedPrompt(svc, loadLearnedPrompt(file), { modelId, name: `${kind} prompt` });
      }
    } finally {
      svc.close();
    }
  }, 240_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const settings = { size: SIZE, steps: STEPS, guidance: 7.5 };

  it('generates a gallery of two sources x two seeds as one job, stores and announces every image, and serves the same request from the store', async () => {
    const seen: GeneratedImage[] = [];
    const off = client.on('generate:image', (g) => seen.push(g));
    const request = { modelId, sources: [{ promptId: prompts['empty prompt']! }, { text: 'a photo of a cat' }], seeds: [0, 1], ...settings };
    const before = await ok('generate:lookup', request);
    expect(before.size).toBe(SIZE);
    // without a size: the model's own (the tiny UNet's sample_size 32 x the VAE's 8)
    expect((await ok('generate:lookup', { ...request, size: undefined })).size).toBe(256);
    expect(before.labels).toEqual(['empty prompt', '"a photo of a cat"']);
    expect(before.cells.map((c) => [c.source, c.seed, c.image])).toEqual([
      [0, 0, null],
      [0, 1, null],
      [1, 0, null],
      [1, 1, null],
    ]);
    const started = await ok('generate:start', request);
    expect(started).toMatchObject({ cached: 0, queued: 4 });
    const job = await finished(started.jobId!);
    off();
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    expect(job.result).toMatchObject({ images: 4 });
    expect(seen).toHaveLength(4);
    const after = await ok('generate:lookup', request);
    expect(after.cells.every((c) => c.image !== null)).toBe(true);
    expect(after.cells.map((c) => c.image!.id).sort()).toEqual(seen.map((g) => g.id).sort());
    // an announced image names the cell it belongs to by key
    expect(after.cells.map((c) => c.key).sort()).toEqual(seen.map((g) => g.key).sort());
    for (const c of after.cells) expect(c.image!.key).toBe(c.key);
    for (const c of after.cells) expect(c.image).toMatchObject({ seed: c.seed, steps: STEPS, guidance: 7.5, width: SIZE, height: SIZE, modelId });
    // the files are PNGs of the asked size, served by id
    for (const c of after.cells) {
      const reply = await resolveImage(api, { id: c.image!.id, size: null, generated: true });
      expect(reply.kind).toBe('file');
      if (reply.kind !== 'file') continue;
      expect(reply.contentType).toBe('image/png');
      const meta = await sharp(reply.file).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', SIZE, SIZE]);
    }
    expect((await resolveImage(api, { id: 999_999, size: null, generated: true })).kind).toBe('error');
    // different seeds and different prompts give different images
    const pixels = await Promise.all(
      after.cells.map(async (c) =>
        (
          await sharp(((await resolveImage(api, { id: c.image!.id, size: null, generated: true })) as { file: string }).file)
            .raw()
            .toBuffer()
        ).toString('base64'),
      ),
    );
    expect(new Set(pixels).size).toBe(4);
    // asked again: nothing runs
    expect(await ok('generate:start', request)).toEqual({ jobId: null, cached: 4, queued: 0 });
  }, 180_000);

  it("stores what the engine samples for the seed: the same pixels as Generator on the seed's initial noise", async () => {
    const request = { modelId, sources: [{ text: 'a photo of a dog' }], seeds: [7], ...settings };
    const { jobId } = await ok('generate:start', request);
    expect((await finished(jobId!)).state).toBe('completed');
    const stored = (await ok('generate:lookup', request)).cells[0]!.image!;
    const reply = (await resolveImage(api, { id: stored.id, size: null, generated: true })) as { file: string };
    const png = await sharp(reply.file).raw().toBuffer();
    const m = SdModel.open(sd, { cacheDir: path.join(dir, 'engine-cache') });
    const g = new Generator(m.folder);
    try {
      const lat = SIZE / 8;
      const latents = { dtype: 'float32' as const, dims: [1, 4, lat, lat], data: new Rng(7).normals(4 * lat * lat) };
      const out = await g.generate({ latents, cond: await promptHiddenStates(m, 'a photo of a dog'), uncond: await promptHiddenStates(m, ''), steps: STEPS, guidance: 7.5 });
      const img = out.image.data as Float32Array;
      const plane = SIZE * SIZE;
      let worst = 0;
      for (let p = 0; p < plane; p++) for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(png[3 * p + k]! - Math.round(255 * Math.min(1, Math.max(0, img[k * plane + p]! / 2 + 0.5)))));
      // the same computation in another process: at most one grey level from rounding
      expect(worst).toBeLessThanOrEqual(1);
    } finally {
      await g.dispose();
      await m.dispose();
    }
  }, 120_000);

  it('generates from learned Single, Class (per category) and CPM (per pair) prompts', async () => {
    const request = {
      modelId,
      dinoModelId: dinoId,
      sources: [
        { promptId: prompts.single! },
        { promptId: prompts.class!, category: 'cat' },
        { promptId: prompts.class!, category: 'dog' },
        { promptId: prompts.cpm!, pairId },
        { promptId: prompts['template "a photo of a {category}"']!, pairId },
      ],
      seeds: [3],
      ...settings,
    };
    const baselines = (await ok('prompts:list', {})).filter((p) => p.kind === 'baseline');
    expect(baselines.map((p) => [p.name, p.baseline]).sort()).toEqual([
      ['DINOv2 features', 'dino'],
      ['empty prompt', 'empty'],
      ['template "a photo of a {category}"', 'template'],
    ]);
    expect((await ok('prompts:list', {})).filter((p) => p.kind !== 'baseline').every((p) => p.baseline === null)).toBe(true);
    const look = await ok('generate:lookup', request);
    expect(look.labels.slice(0, 3)).toEqual(['single prompt', 'class prompt · cat', 'class prompt · dog']);
    expect(look.labels[3]).toMatch(/^cpm prompt · /);
    expect(look.labels[4]).toMatch(/^template "a photo of a (cat|dog)"$/);
    const { jobId, queued } = await ok('generate:start', request);
    expect(queued).toBe(5);
    const job = await finished(jobId!);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    const cells = (await ok('generate:lookup', request)).cells;
    expect(cells.map((c) => c.image?.promptId)).toEqual([prompts.single, prompts.class, prompts.class, prompts.cpm, prompts['template "a photo of a {category}"']]);
    expect(cells[1]!.image!.category).toBe('cat');
    expect(cells[3]!.image!.pairId).toBe(pairId);
  }, 180_000);

  it('cancels a running generation: the job ends cancelled and only finished images are stored', async () => {
    const request = { modelId, sources: [{ text: 'a photo of a bird' }], seeds: [11, 12], size: SIZE, steps: 900, guidance: 7.5 };
    const { jobId } = await ok('generate:start', request);
    await new Promise<void>((resolve) => {
      const off = client.on('job:updated', (j) => {
        if (j.id === jobId && (j.progress?.done ?? 0) >= 5) {
          off();
          resolve();
        }
      });
    });
    // any window sees what the running job makes, and the job to cancel
    const running = await ok('generate:lookup', request);
    expect(running.jobId).toBe(jobId);
    expect(running.cells.map((c) => c.pending)).toEqual([true, true]);
    // asking for the same images again leaves them to that job
    expect(await ok('generate:start', request)).toEqual({ jobId: null, cached: 2, queued: 0 });
    expect(await ok('jobs:cancel', { id: jobId! })).toEqual({ cancelled: true });
    const job = await finished(jobId!);
    expect(job.state).toBe('cancelled');
    const after = await ok('generate:lookup', request);
    expect(after.cells.map((c) => [c.image, c.pending])).toEqual([
      [null, false],
      [null, false],
    ]);
    expect(after.jobId).toBeNull();
  }, 120_000);

  it('refuses bad input before anything runs, and stores nothing', async () => {
    const snap = snapshotDb(db);
    const files = () => (fs.existsSync(path.join(dir, 'ws.db-cache', 'generated')) ? fs.readdirSync(path.join(dir, 'ws.db-cache', 'generated')).length : 0);
    const nFiles = files();
    const base = { modelId, sources: [{ text: 'a cat' }], seeds: [0], size: SIZE };
    const cases: [unknown, RegExp][] = [
      [{ ...base, modelId: noDecoderId }, /has no vae_decoder\/model\.onnx: generating images needs the VAE decoder/],
      [{ ...base, sources: [{ promptId: 9999 }] }, /source 1: no prompt with id 9999/],
      [{ ...base, dinoModelId: dinoId, sources: [{ promptId: prompts.cpm }] }, /source 1: cpm prompt is a CPM prompt, conditioned on an image pair: choose a pair/],
      [{ ...base, sources: [{ promptId: prompts.cpm, pairId }] }, /it needs a DINOv2 model/],
      [{ ...base, sources: [{ promptId: prompts.class }] }, /class prompt is a Class prompt: choose one of its categories \(cat, dog\)/],
      [{ ...base, sources: [{ promptId: prompts.class, category: 'horse' }] }, /has no prompt for category 'horse'/],
      [{ ...base, sources: [{ promptId: prompts['DINOv2 features'] }] }, /not a text prompt; there is nothing to generate from/],
      [{ ...base, sources: [{ promptId: prompts['template "a photo of a {category}"'] }] }, /needs a category/],
      [{ ...base, steps: 0 }, /steps must be at least 1/],
      [{ ...base, guidance: -1 }, /guidance scale must be >= 0/],
      [{ ...base, seeds: [] }, /.+/],
      [{ ...base, size: 100 }, /multiple of 64/],
    ];
    for (const [args, message] of cases) {
      for (const method of ['generate:start', 'generate:lookup'] as const) {
        const e = await fail(method, args);
        expect(e.message, `${method} ${JSON.stringify(args)}`).toMatch(message);
      }
    }
    expect(snapshotDb(db)).toEqual(snap);
    expect(files()).toBe(nFiles);
  }, 60_000);

  it('refuses a size that will not fit in the free memory before any session exists, naming one that would, and stores nothing', async () => {
    const snap = snapshotDb(db);
    process.env.SD4MATCH_AVAILABLE_MEMORY_GB = '0.3';
    try {
      const { jobId } = await ok('generate:start', { modelId, sources: [{ text: 'a photo of a car' }], seeds: [0], size: 512, steps: 2 });
      const job = await finished(jobId!);
      expect(job.state).toBe('failed');
      expect(job.error?.code).toBe('OUT_OF_MEMORY');
      expect(job.error?.message).toMatch(/generating at 512 px \(UNet on a batch of 2, then the VAE decoder\) needs about [\d.]+ GB, 0\.3 GB are free: (use --size \d+|free memory first)/);
    } finally {
      delete process.env.SD4MATCH_AVAILABLE_MEMORY_GB;
    }
    expect(snapshotDb(db)).toEqual(snap);
  }, 120_000);

  it('estimates the memory of generating at a size', async () => {
    const e = await ok('generate:estimate', { modelId, size: SIZE });
    expect(e.fits).toBe(true);
    expect(e.what).toMatch(/generating at 128 px/);
    expect(e.bytes).toBeGreaterThan(e.weights + e.activations);
    const big = await ok('generate:estimate', { modelId, size: 1024 });
    expect(big.activations).toBeGreaterThan(e.activations);
  }, 60_000);

  it('sweeps two prompts over three timesteps: six stored evaluations read back as PCK against t, kept out of the PCK table', async () => {
    const promptIds = [prompts['empty prompt']!, prompts.single!];
    const { jobId, sweepId } = await ok('evals:sweep', { modelId, datasetId, split: 'val', promptIds, timesteps: [50, 0, 261], limit: 3, size: 256, ensemble: 1 });
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('completed');
    const list = await ok('evals:sweeps', { datasetId });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: sweepId, split: 'val', limit: 3, timesteps: [0, 50, 261], completed: 6, total: 6, running: false, jobId: null });
    const r = await ok('evals:sweepResult', { sweepId });
    expect(r.series.map((s) => s.promptId)).toEqual(promptIds);
    for (const s of r.series) {
      expect(s.points.map((p) => p.timestep)).toEqual([0, 50, 261]);
      for (const p of s.points) for (const v of Object.values(p.pck)) expect(v).toBeGreaterThanOrEqual(0);
      for (const p of s.points) expect(p.pck['0.15']).toBeGreaterThanOrEqual(p.pck['0.05']!);
      for (const p of s.points) expect(Object.keys(p.byMethod).sort()).toEqual(['bilinear', 'kernelsoftmax', 'nn', 'softmax']);
      for (const p of s.points) expect(p.byMethod.kernelsoftmax).toEqual(p.pck);
    }
    expect(r.series[0]!.trainTimestep).toBeNull();
    expect(r.series[1]!.trainTimestep).toBe(261);
    const evalRuns = (await ok('runs:list', { kind: 'eval' })).filter((x) => (x.config as { sweep?: string }).sweep === sweepId);
    expect(evalRuns).toHaveLength(6);
    // the sweep's evaluations are not a prompt's latest PCK
    expect((await ok('evals:table', { datasetId, split: 'val' })).rows.filter((row) => evalRuns.some((x) => x.id === row.runId))).toEqual([]);
    expect((await fail('evals:sweepResult', { sweepId: 'sweep-nope' })).message).toMatch(/no timestep sweep 'sweep-nope'/);
    expect((await fail('evals:sweep', { modelId, datasetId, split: 'val', promptIds: [prompts['DINOv2 features']], timesteps: [50] })).message).toMatch(/needs a DINOv2 model/);
  }, 240_000);

  it('CLI: generate writes PNGs and prints their paths (the second time from the cache); eval --timesteps prints PCK against t', async () => {
    const out = path.join(dir, 'cli-out');
    const args = ['--db', db, 'generate', '--model-dir', sd, '--text', 'a photo of a chair', '--seeds', '4,5', '--steps', '2', '--size', String(SIZE), '--out', out];
    const a = await runCli(args);
    expect(a.code, a.stderr).toBe(0);
    const paths = a.stdout.trim().split('\n');
    expect(paths).toEqual([path.join(out, 'a_photo_of_a_chair-seed4.png'), path.join(out, 'a_photo_of_a_chair-seed5.png')]);
    for (const p of paths) expect((await sharp(p).metadata()).width).toBe(SIZE);
    const b = await runCli(args);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/2 from the cache/);
    const bad = await runCli(['--db', db, 'generate', '--model-dir', sd, '--prompt', 'dino', '--out', out]);
    expect(bad.stderr).toMatch(/not a text prompt/);
    // a prompt file that cannot be used as asked is refused before it is recorded
    const klass = path.join(dir, 'class-cli.safetensors');
    writePromptFile(klass, 'class', { modelHash, imageSize: 256, hidden: 32, categories: ['cat', 'dog'], seed: 5 });
    const snap = snapshotDb(db);
    const noCategory = await runCli(['--db', db, 'generate', '--model-dir', sd, '--prompt', klass, '--out', out]);
    expect(noCategory.code).not.toBe(0);
    expect(noCategory.stderr).toMatch(/is a Class prompt: give --category, one of cat, dog/);
    expect(snapshotDb(db)).toEqual(snap);
    const file = await runCli(['--db', db, 'generate', '--model-dir', sd, '--prompt', klass, '--category', 'dog', '--seeds', '1', '--steps', '2', '--size', String(SIZE), '--out', out]);
    expect(file.code, file.stderr).toBe(0);
    expect(file.stdout.trim()).toBe(path.join(out, 'class_prompt_dog-seed1.png'));
    const s = await runCli([
      '--db',
      db,
      'eval',
      '--model-dir',
      sd,
      '--dataset',
      'spair',
      '--split',
      'val',
      '--prompt',
      'empty',
      '--timesteps',
      '0,50',
      '--limit',
      '2',
      '--size',
      '256',
      '--ensemble',
      '1',
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/PCK \(%\) per image against the timestep/);
    expect(s.stdout).toMatch(/^\s+0\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    expect(s.stdout).toMatch(/^\s+50\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    expect(s.stdout).toMatch(/sweep sweep-/);
  }, 240_000);
});

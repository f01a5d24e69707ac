/**
 * What a registered model can do, through the API with a temp SQLite file and the tiny fixture
 * folders: validation states each capability (empty-prompt features, text prompts, training,
 * generation, CPM) with the reason naming the missing part; actions a model cannot do are refused
 * up front with that reason (no job, no run); a model keeps its user-given name and the facts
 * found when it was added after a job records it; "Check again" then Save updates it in place.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload, ModelInfo } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let tmp: string;
let api: Api;
let client: InMemoryClient;
/** The tiny SD folder with a tokenizer, and a copy without one. */
let full: string;
let bare: string;
let datasetId: number;

const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

async function model(id: number): Promise<ModelInfo> {
  const m = (await ok('models:list')).find((x) => x.id === id);
  if (!m) throw new Error(`model ${id} is not listed`);
  return m;
}

async function emptyPromptId(): Promise<number> {
  return (await ok('prompts:list', {})).find((p) => p.baseline === 'empty')!.id;
}

describe.skipIf(!HAVE_FIXTURES)('model capabilities and records', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-model-caps-'));
    full = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'full'));
    bare = path.join(tmp, 'bare');
    fs.cpSync(full, bare, { recursive: true });
    fs.rmSync(path.join(bare, 'tokenizer'), { recursive: true });
    await writeShiftedSpair(path.join(tmp, 'shift'), 6, 3, { size: 128 });
    api = createApi({ db: path.join(tmp, 'w.db') });
    client = createInMemoryClient(api);
    const { jobId } = await ok('datasets:import', { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' });
    const job = await finished(jobId);
    expect(job.state).toBe('completed');
    datasetId = (job.result as { datasetId: number }).datasetId;
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('states what a full folder can do; CPM waits for a DINOv2 model to be registered', async () => {
    const v = await ok('models:validate', { kind: 'stable-diffusion', folder: full });
    expect(v.ok).toBe(true);
    expect(v.capabilities).toMatchObject({
      features: { ok: true, reason: null },
      textPrompts: { ok: true, reason: null },
      training: { ok: true, reason: null },
      generation: { ok: true, reason: null },
      cpm: { ok: false, reason: expect.stringMatching(/no DINOv2 model is registered.*CPM/) },
    });
    await ok('models:add', { kind: 'dinov2', folder: modelPath('dinov2'), name: 'tiny dino' });
    const again = await ok('models:validate', { kind: 'stable-diffusion', folder: full });
    expect(again.capabilities!.cpm).toEqual({ ok: true, reason: null });
    // a DINOv2 folder has no capabilities of its own to state
    expect((await ok('models:validate', { kind: 'dinov2', folder: modelPath('dinov2') })).capabilities).toBeNull();
  });

  it('states what a folder without a tokenizer cannot do, naming the tokenizer, in validation and in the list', async () => {
    const v = await ok('models:validate', { kind: 'stable-diffusion', folder: bare });
    expect(v.ok).toBe(true);
    const caps = v.capabilities!;
    for (const c of ['features', 'textPrompts', 'training', 'generation', 'cpm'] as const) {
      expect(caps[c].ok, c).toBe(false);
      expect(caps[c].reason, c).toMatch(/no tokenizer\/ folder \(vocab\.json \+ merges\.txt, or tokenizer\.json\)/);
    }
    // the empty prompt is made of the tokenizer's ids, which differ between releases: no guessing
    expect(caps.features.reason).toMatch(/empty prompt/);
    const added = await ok('models:add', { kind: 'stable-diffusion', folder: bare, name: 'no tokenizer' });
    expect(added.model!.capabilities).toEqual(caps);
    expect((await model(added.model!.id)).capabilities).toEqual(caps);
    // a folder with its tokenizer but without a VAE decoder can do everything but generate
    const noDecoder = path.join(tmp, 'no-decoder');
    fs.cpSync(full, noDecoder, { recursive: true });
    fs.rmSync(path.join(noDecoder, 'vae_decoder'), { recursive: true });
    const nd = (await ok('models:validate', { kind: 'stable-diffusion', folder: noDecoder })).capabilities!;
    expect(nd.training.ok).toBe(true);
    expect(nd.generation).toEqual({ ok: false, reason: expect.stringMatching(/no vae_decoder\/model\.onnx/) });
  });

  it('refuses training, Suggest, evaluations, sweeps and generation with the empty prompt up front on a model without a tokenizer', async () => {
    const id = (await ok('models:list')).find((m) => m.name === 'no tokenizer')!.id;
    const empty = await emptyPromptId();
    const jobsBefore = (await ok('jobs:list')).length;
    const train = await fail('runs:train', { modelId: id, datasetId, prompt: 'single', steps: 2, batch: 1, lr: 1e-2, size: 128 });
    expect(train).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model 'no tokenizer' cannot train prompts: no tokenizer\/ folder/) });
    const estimate = await fail('runs:estimate', { modelId: id, datasetId, prompt: 'single', batch: 1, size: 128 });
    expect(estimate.message).toBe(train.message);
    const evalErr = await fail('evals:start', { modelId: id, datasetId, split: 'val', promptId: empty, size: 128, ensemble: 1 });
    expect(evalErr).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model 'no tokenizer' cannot compute features with the empty prompt: no tokenizer\//) });
    const sweep = await fail('evals:sweep', { modelId: id, datasetId, split: 'val', promptIds: [empty], timesteps: [50], size: 128, ensemble: 1 });
    expect(sweep).toMatchObject({ code: 'INVALID_ARGUMENT', message: evalErr.message });
    const ds = await ok('datasets:get', { id: datasetId });
    const cat = ds.categoryList[0]!;
    const images = (await ok('images:list', { datasetId, categoryId: cat.id, limit: 10 })).items;
    const suggest = await fail('suggest:start', { categoryId: cat.id, imageIds: [images[0]!.id], promptId: empty, modelId: id, size: 128, ensemble: 1 });
    expect(suggest).toMatchObject({ code: 'INVALID_ARGUMENT', message: evalErr.message });
    const gen = await fail('generate:start', { modelId: id, sources: [{ text: 'a cat' }], seeds: [1], steps: 2, guidance: 7.5, size: 64 });
    expect(gen).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model 'no tokenizer' cannot generate images: no tokenizer\//) });
    // nothing was started or recorded
    expect((await ok('jobs:list')).length).toBe(jobsBefore);
    expect(await ok('runs:list', {})).toEqual([]);
  });

  it('keeps a model’s own name and the facts found when it was added after a job records it', async () => {
    const added = await ok('models:add', { kind: 'stable-diffusion', folder: full, name: 'my-sd' });
    expect(added.model).toMatchObject({ name: 'my-sd', facts: { tokenizer: true } });
    const { jobId } = await ok('evals:start', { modelId: added.model!.id, datasetId, split: 'val', promptId: await emptyPromptId(), size: 128, ensemble: 1, limit: 1 });
    const job = await finished(jobId);
    expect(job.error?.message ?? null).toBeNull();
    const after = await model(added.model!.id);
    expect(after.name).toBe('my-sd');
    expect(after.facts).toEqual(added.model!.facts);
    expect(after.warnings).toEqual(added.model!.warnings);
    // what the job learnt is kept beside it
    expect(after.compiled).toMatchObject({ present: true });
    expect((await ok('runs:list', { kind: 'eval' }))[0]).toMatchObject({ modelId: added.model!.id, status: 'completed' });
  }, 120_000);

  it('"Check again" then Save updates the model in place and says so; a moved folder is re-pointed', async () => {
    const before = (await ok('models:list')).find((m) => m.name === 'my-sd')!;
    const changed: EventPayload<'model:changed'>[] = [];
    const off = client.on('model:changed', (e) => changed.push(e));
    const saved = await ok('models:add', { kind: 'stable-diffusion', folder: full, name: 'my-sd', id: before.id });
    expect(saved).toMatchObject({ updated: true, model: { id: before.id, name: 'my-sd', compiled: before.compiled } });
    // renamed in the same dialog
    const renamed = await ok('models:add', { kind: 'stable-diffusion', folder: full, name: 'my sd 2-1', id: before.id });
    expect(renamed).toMatchObject({ updated: true, model: { id: before.id, name: 'my sd 2-1' } });
    // the folder moved: Check again points the same record (and its runs) at the new place
    const moved = path.join(tmp, 'moved');
    fs.renameSync(full, moved);
    expect((await model(before.id)).folderExists).toBe(false);
    const repointed = await ok('models:add', { kind: 'stable-diffusion', folder: moved, id: before.id });
    expect(repointed).toMatchObject({ updated: true, model: { id: before.id, name: 'my sd 2-1', folder: moved, folderExists: true } });
    off();
    expect(changed).toEqual([
      { id: before.id, reason: 'updated' },
      { id: before.id, reason: 'updated' },
      { id: before.id, reason: 'updated' },
    ]);
    expect((await ok('runs:list', { kind: 'eval' }))[0]!.modelId).toBe(before.id);
    // a new folder is added, not updated; pointing a record at a folder another model has is refused
    const fresh = await ok('models:add', { kind: 'stable-diffusion', folder: path.join(tmp, 'no-decoder') });
    expect(fresh.updated).toBe(false);
    expect(await fail('models:add', { kind: 'stable-diffusion', folder: bare, id: before.id })).toMatchObject({
      code: 'CONFLICT',
      field: 'folder',
      message: expect.stringMatching(/'no tokenizer' already uses/),
    });
    expect(await fail('models:add', { kind: 'stable-diffusion', folder: moved, id: 9999 })).toMatchObject({ code: 'NOT_FOUND' });
  });
});

/**
 * Records the things runs refer to: the model a run used, and the prompt (baselines are prompts
 * too, so every evaluation attaches to one). Learned prompt files are copied into the store with
 * their tensors, so results stay attached even if the file moves.
 */
import path from 'node:path';
import type { HostTensor } from '../../engine/onnx/ir.js';
import { describePrompt, type PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import { type LearnedPrompt, loadLearnedPrompt } from '../../engine/sd4match/prompts/prompts.js';
import type { SdModel } from '../../engine/sd4match/model/sd-model.js';
import type { StoredTensor } from '../../store/repositories/prompts.js';
import type { Services } from '../app/context.js';

/**
 * The model record of the folder a job opened: registered under the folder's name (made unique)
 * when it is new. A registered model keeps the name its user gave it, and what the job knows (the
 * folder's facts, its content hash, the compiled graphs' key) is merged into what is stored: the
 * facts found when it was added are never dropped. Returns the model's id.
 */
export async function modelRecord(svc: Services, sd: SdModel): Promise<number> {
  return svc.store.write(() => {
    const dir = sd.folder.dir;
    // names are unique: two folders called 'sd' become 'sd' and 'sd (2)' (a registered folder keeps its own)
    const taken = new Set(
      svc.repos.models
        .list()
        .filter((m) => m.folder !== dir)
        .map((m) => m.name),
    );
    let name = path.basename(dir);
    for (let k = 2; taken.has(name); k++) name = `${path.basename(dir)} (${k})`;
    const f = sd.folder;
    return svc.repos.models.upsert({
      name,
      kind: 'stable-diffusion',
      folder: dir,
      hashes: { content: sd.compiled.modelHash },
      info: { hiddenSize: f.hiddenSize, latentChannels: f.latentChannels, scalingFactor: f.scalingFactor, tokenizer: f.tokenizer !== null, warnings: f.warnings, compiled: sd.compiled.key },
      validated: true,
    }).id;
  });
}

export function toStored(t: HostTensor): StoredTensor {
  return { dtype: t.dtype as StoredTensor['dtype'], dims: t.dims, data: t.data as StoredTensor['data'] };
}

/** Stores a learned prompt (from a file or a finished run); returns its id. */
export async function storeLearnedPrompt(
  svc: Services,
  p: LearnedPrompt,
  extra: { modelId: number | null; datasetId?: number | null; runId?: number | null; step?: number | null; name?: string },
): Promise<number> {
  return svc.store.write(() => {
    const existing = svc.repos.prompts.list({}).find((r) => r.provenance.file === p.file && r.provenance.created === p.meta.created && p.file !== '');
    if (existing) return existing.id;
    return svc.repos.prompts.create({
      name: extra.name ?? `${p.meta.kind} prompt${p.meta.dataset ? ` (${p.meta.dataset})` : ''}`,
      kind: p.meta.kind,
      modelId: extra.modelId,
      datasetId: extra.datasetId ?? null,
      runId: extra.runId ?? null,
      step: extra.step ?? null,
      config: { kind: p.meta.kind, categories: p.meta.categories, imageSize: p.meta.imageSize, timestep: p.meta.timestep },
      provenance: { file: p.file, created: p.meta.created, modelHash: p.meta.modelHash, runId: p.meta.runId ?? null, dataset: p.meta.dataset ?? null },
      tensors: Object.fromEntries(Object.entries(p.tensors).map(([k, v]) => [k, toStored(v)])),
    }).id;
  });
}

/** The prompt record for a prompt spec (created on first use). */
export async function findOrCreatePrompt(svc: Services, spec: PromptSpec, modelId: number, sd: SdModel): Promise<number> {
  void sd;
  if (spec.kind === 'file') return storeLearnedPrompt(svc, loadLearnedPrompt(spec.file), { modelId });
  if (spec.kind === 'learned') return storeLearnedPrompt(svc, spec.prompt, { modelId });
  const name = describePrompt(spec);
  return svc.store.write(() => {
    const existing = svc.repos.prompts.list({ kind: 'baseline' }).find((r) => r.name === name);
    if (existing) return existing.id;
    return svc.repos.prompts.create({ name, kind: 'baseline', modelId: null, config: { spec } }).id;
  });
}

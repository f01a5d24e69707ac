/**
 * Use cases of the models domain: list, validate, add (validate + register, or update a model in
 * place), compile (job), remove; and what a registered model can do (capabilities), which every
 * service that starts work on a model checks first, so an action the model cannot do is refused
 * with the reason instead of failing its job.
 */
import fs from 'node:fs';
import path from 'node:path';
import { validateModelFolder } from '../../engine/models/validate.js';
import type { ModelRecord } from '../../store/repositories/models.js';
import { ModelsRepo } from '../../store/repositories/models.js';
import type { ModelFacts, ModelInfo } from '../../contract/index.js';
import { AppError, FieldError } from '../../shared/errors.js';
import type { AppContext } from '../app/app.js';
import { storeOf } from '../app/catalog.js';
import { capabilitiesOf, hasDino } from './capabilities.js';

const FACT_KEYS = ['hiddenSize', 'latentChannels', 'scalingFactor', 'tokenizer', 'patch'] as const;

function toModelInfo(m: ModelRecord, cacheDir: string, dinoRegistered: boolean): ModelInfo {
  const facts: ModelFacts = {};
  for (const k of FACT_KEYS) {
    const v = m.info[k];
    if (typeof v === 'number' || typeof v === 'boolean') (facts as Record<string, number | boolean>)[k] = v;
  }
  const key = typeof m.info.compiled === 'string' ? m.info.compiled : null;
  const warnings = Array.isArray(m.info.warnings) ? m.info.warnings.filter((w): w is string => typeof w === 'string') : [];
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    folder: m.folder,
    folderExists: fs.existsSync(m.folder),
    facts,
    warnings,
    capabilities: capabilitiesOf(m, dinoRegistered),
    compiled: key === null ? null : { key, present: fs.existsSync(path.join(cacheDir, 'compiled', key, 'manifest.json')) },
    provider: m.provider,
    validatedAt: m.validatedAt,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

/** A model folder of a kind (adding one also takes the name to give it, or the model whose folder it replaces). */
export interface ModelFolder {
  kind: 'stable-diffusion' | 'dinov2';
  folder: string;
}

/** Compile jobs running per engine, by model id (one compile of a model at a time). */
const compiling = new WeakMap<AppContext, Map<number, string>>();

function cacheDir(ctx: AppContext): string {
  return ctx.services().cacheDir;
}

export async function listModels(ctx: AppContext) {
  const dir = cacheDir(ctx);
  return storeOf(ctx).read((db) => {
    const models = new ModelsRepo(db).list();
    return models.map((m) => toModelInfo(m, dir, hasDino(models)));
  });
}

export async function validateModel(ctx: AppContext, { kind, folder }: ModelFolder) {
  const dinoRegistered = await storeOf(ctx).read((db) => hasDino(new ModelsRepo(db).list()));
  return validateModelFolder(kind, folder, { dinoRegistered });
}

export async function addModel(ctx: AppContext, { kind, folder, name, id }: ModelFolder & { name?: string; id?: number }) {
  const store = storeOf(ctx);
  const dinoRegistered = kind === 'dinov2' || (await store.read((db) => hasDino(new ModelsRepo(db).list())));
  const validation = validateModelFolder(kind, folder, { dinoRegistered });
  if (!validation.ok) return { model: null, validation, updated: false };
  const dir = cacheDir(ctx);
  const { record, updated, models } = await store.write((db) => {
    const repo = new ModelsRepo(db);
    const atFolder = repo.findByFolder(validation.folder);
    // Check again names its model; adding a registered folder again refreshes that folder's model
    const target = id !== undefined ? repo.get(id) : atFolder;
    if (id !== undefined && !target) throw new AppError('NOT_FOUND', `no model with id ${id}: it was removed; add the folder as a new model`);
    if (target && atFolder && atFolder.id !== target.id) {
      throw new FieldError('CONFLICT', 'folder', `model '${atFolder.name}' already uses ${validation.folder}; check that model again, or remove it first`);
    }
    const others = repo.list().filter((m) => m.id !== target?.id);
    let chosen: string;
    if (name !== undefined) {
      const clash = others.find((m) => m.name === name);
      if (clash) throw new FieldError('CONFLICT', 'name', `a model named '${name}' already exists (${clash.folder}); choose another name`);
      chosen = name;
    } else if (target) {
      chosen = target.name;
    } else {
      // names are unique: two folders called 'sd' become 'sd' and 'sd (2)'
      const taken = new Set(others.map((m) => m.name));
      const base = path.basename(validation.folder) || validation.folder;
      chosen = base;
      for (let k = 2; taken.has(chosen); k++) chosen = `${base} (${k})`;
    }
    const found = { ...validation.facts, warnings: validation.warnings };
    let record: ModelRecord;
    if (target) {
      // what validation found replaces what it re-checked; what jobs learnt (the compiled graphs' key) stays,
      // unless the folder is now read as another kind of model
      const kept = target.kind === kind ? Object.fromEntries(Object.entries(target.info).filter(([k]) => !(FACT_KEYS as readonly string[]).includes(k))) : {};
      record = repo.update(target.id, {
        name: chosen,
        kind,
        folder: validation.folder,
        hashes: target.kind === kind && target.folder === validation.folder ? target.hashes : {},
        info: { ...kept, ...found },
        validated: true,
      });
    } else {
      record = repo.upsert({ name: chosen, kind, folder: validation.folder, hashes: {}, info: found, validated: true });
    }
    return { record, updated: target !== undefined, models: repo.list() };
  });
  ctx.events.emit('model:changed', { id: record.id, reason: updated ? 'updated' : 'added' });
  return { model: toModelInfo(record, dir, hasDino(models)), validation, updated };
}

export async function startCompile(ctx: AppContext, id: number) {
    const store = storeOf(ctx);
    const dir = cacheDir(ctx);
    const model = await store.read((db) => new ModelsRepo(db).get(id));
    if (!model) throw new AppError('NOT_FOUND', `no model with id ${id}`);
    if (model.kind !== 'stable-diffusion') throw new AppError('INVALID_ARGUMENT', `${model.name} is a DINOv2 model: it is used as it is and needs no compiling`);
    if (!fs.existsSync(model.folder)) throw new AppError('NOT_FOUND', `the folder of ${model.name} (${model.folder}) is gone; add it again from where it is now`);
    let running = compiling.get(ctx);
    if (!running) compiling.set(ctx, (running = new Map()));
    const current = running.get(id);
    if (current !== undefined && ctx.jobs.get(current)?.state === 'running') throw new AppError('CONFLICT', `${model.name} is already compiling`);
    const { job, done } = ctx.jobs.run('compile', `Compile ${model.name}`, async (task) => {
      // a compile checkpoints nothing: a cancelled one that does not reach a check soon is stopped
      const compiled = await ctx.jobs.inProcess('compile', { folder: model.folder, cacheDir: dir }, task, { cancelGraceMs: 3000 });
      await store.write((db) => {
        const repo = new ModelsRepo(db);
        const current = repo.get(id);
        if (!current) return;
        repo.update(id, { hashes: { ...current.hashes, content: compiled.modelHash }, info: { ...current.info, compiled: compiled.key } });
        if (compiled.provider) repo.setProvider(id, compiled.provider);
      });
      ctx.events.emit('model:changed', { id, reason: 'compiled' });
      return { key: compiled.key, provider: compiled.provider };
    });
    running.set(id, job.id);
    const forget = () => {
      if (running.get(id) === job.id) running.delete(id);
    };
    done.then(forget, forget);
    return { jobId: job.id };
  }

export async function removeModel(ctx: AppContext, id: number) {
    const removed = await storeOf(ctx).write((db) => {
      const repo = new ModelsRepo(db);
      if (!repo.get(id)) return false;
      repo.delete(id);
      return true;
    });
    if (removed) ctx.events.emit('model:changed', { id, reason: 'removed' });
    return { removed };
  }

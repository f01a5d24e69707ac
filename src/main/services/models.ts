/** Use cases of the models domain: list, validate, add (validate + register), compile (job), remove. */
import fs from 'node:fs';
import path from 'node:path';
import type { CompiledModel } from './jobs/worker-tasks.js';
import { validateModelFolder } from '../engine/models/validate.js';
import type { ModelRecord } from '../store/repositories/models.js';
import { ModelsRepo } from '../store/repositories/models.js';
import type { ModelFacts, ModelInfo, InvokeParsedArgs } from '../api/contract.js';
import { AppError, FieldError } from '../shared/errors.js';
import type { AppContext } from './app.js';
import { storeOf } from './catalog.js';


const FACT_KEYS = ['hiddenSize', 'latentChannels', 'scalingFactor', 'tokenizer', 'patch'] as const;

function toModelInfo(m: ModelRecord, cacheDir: string): ModelInfo {
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
    compiled: key === null ? null : { key, present: fs.existsSync(path.join(cacheDir, 'compiled', key, 'manifest.json')) },
    provider: m.provider,
    validatedAt: m.validatedAt,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

/** Compile jobs running per engine, by model id (one compile of a model at a time). */
const compiling = new WeakMap<AppContext, Map<number, string>>();

function cacheDir(ctx: AppContext): string {
  return ctx.services().cacheDir;
}

export async function listModels(ctx: AppContext) {
    const dir = cacheDir(ctx);
    return storeOf(ctx).read((db) => new ModelsRepo(db).list().map((m) => toModelInfo(m, dir)));
  }

export async function validateModel(_ctx: AppContext, { kind, folder }: InvokeParsedArgs<'models:validate'>) {
  return validateModelFolder(kind, folder);
}

export async function addModel(ctx: AppContext, { kind, folder, name }: InvokeParsedArgs<'models:add'>) {
    const validation = validateModelFolder(kind, folder);
    if (!validation.ok) return { model: null, validation };
    const dir = cacheDir(ctx);
    const record = await storeOf(ctx).write((db) => {
      const repo = new ModelsRepo(db);
      const existing = repo.findByFolder(validation.folder);
      const others = repo.list().filter((m) => m.folder !== validation.folder);
      let chosen: string;
      if (name !== undefined) {
        const clash = others.find((m) => m.name === name);
        if (clash) throw new FieldError('CONFLICT', 'name', `a model named '${name}' already exists (${clash.folder}); choose another name`);
        chosen = name;
      } else if (existing) {
        chosen = existing.name;
      } else {
        // names are unique: two folders called 'sd' become 'sd' and 'sd (2)'
        const taken = new Set(others.map((m) => m.name));
        const base = path.basename(validation.folder) || validation.folder;
        chosen = base;
        for (let k = 2; taken.has(chosen); k++) chosen = `${base} (${k})`;
      }
      const keep = existing && existing.kind === kind ? existing.info : {};
      return repo.upsert({
        name: chosen,
        kind,
        folder: validation.folder,
        hashes: existing?.hashes ?? {},
        info: { ...keep, ...validation.facts, warnings: validation.warnings },
        validated: true,
      });
    });
    ctx.events.emit('model:changed', { id: record.id, reason: 'added' });
    return { model: toModelInfo(record, dir), validation };
  }

export async function startCompile(ctx: AppContext, { id }: InvokeParsedArgs<'models:compile'>) {
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
      const compiled = await ctx.jobs.inProcess<CompiledModel>('compile', { folder: model.folder, cacheDir: dir }, task, { cancelGraceMs: 3000 });
      await store.write((db) => {
        const repo = new ModelsRepo(db);
        const current = repo.get(id);
        if (!current) return;
        repo.upsert({ name: current.name, kind: current.kind, folder: current.folder, hashes: { ...current.hashes, content: compiled.modelHash }, info: { ...current.info, compiled: compiled.key } });
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

export async function removeModel(ctx: AppContext, { id }: InvokeParsedArgs<'models:remove'>) {
    const removed = await storeOf(ctx).write((db) => {
      const repo = new ModelsRepo(db);
      if (!repo.get(id)) return false;
      repo.delete(id);
      return true;
    });
    if (removed) ctx.events.emit('model:changed', { id, reason: 'removed' });
    return { removed };
  }

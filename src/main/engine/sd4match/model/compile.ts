/**
 * Compiles the graphs SD4Match needs from a Stable Diffusion folder, cached on disk by content
 * hash and settings: the UNet feature graph (up_blocks.1 tapped), the text encoder from
 * embeddings (cut at its embedding module, input `inputs_embeds`) and the embed graph
 * (input_ids -> embedding output). Weights are hard-linked or streamed, never loaded whole.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import { publishDir } from '../../cache/publish.js';
import { writeFileAtomic } from '../../cache/temp-files.js';
import type { TaskContext } from '../../jobs/progress.js';
import { loadModel, saveModel } from '../../onnx/model-io.js';
import { cut, tap } from '../../onnx/transforms.js';
import { FEATURE_SCOPE, type SdFolder } from './model-folder.js';

/** Bump when compiled graphs change meaning. */
const COMPILER_VERSION = 1;

export interface CompiledSd {
  key: string;
  dir: string;
  unetFeatures: string;
  textFromEmbeds: string;
  embed: string;
  /** Content hash of the source model files (for prompt provenance and caches). */
  modelHash: string;
}

interface HashCacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** sha256 of a file, remembered per (path, size, mtime) so multi-GB weights are hashed once. */
export function fileHash(file: string, cacheDir: string): string {
  const st = fs.statSync(file);
  const indexFile = path.join(cacheDir, 'file-hashes.json');
  let index: Record<string, HashCacheEntry>;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as Record<string, HashCacheEntry>;
  } catch {
    index = {};
  }
  const abs = path.resolve(file);
  const hit = index[abs];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(abs, 'r');
  try {
    const buf = Buffer.allocUnsafe(16 * 1024 * 1024);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const sha256 = h.digest('hex');
  index[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(indexFile, Buffer.from(JSON.stringify(index, null, 1)));
  return sha256;
}

/** The files whose bytes define a model part: the .onnx file and every external-data file beside it. */
function partFiles(onnxFile: string): string[] {
  const dir = path.dirname(onnxFile);
  const base = path.basename(onnxFile);
  const extras = fs.readdirSync(dir).filter((f) => f !== base && (f.startsWith(`${base}`) || f.endsWith('.data') || f.endsWith('_data')) && !f.endsWith('.json'));
  return [onnxFile, ...extras.sort().map((f) => path.join(dir, f))];
}

export function modelHash(folder: SdFolder, cacheDir: string, task?: TaskContext): string {
  const files = [folder.unet, folder.textEncoder, folder.vaeEncoder].flatMap(partFiles);
  const h = crypto.createHash('sha256');
  files.forEach((f, i) => {
    task?.token.throwIfCancelled();
    task?.progress({ stage: 'hashing model files', done: i, total: files.length, detail: path.relative(folder.dir, f) });
    h.update(`${path.relative(folder.dir, f)}:${fileHash(f, cacheDir)}\n`);
  });
  task?.progress({ stage: 'hashing model files', done: files.length, total: files.length });
  return h.digest('hex').slice(0, 24);
}

export function compileSd(folder: SdFolder, cacheDir: string, task?: TaskContext): CompiledSd {
  const hash = modelHash(folder, cacheDir, task);
  const key = crypto.createHash('sha256').update(`${hash}:${FEATURE_SCOPE}:v${COMPILER_VERSION}`).digest('hex').slice(0, 24);
  const dir = path.join(cacheDir, 'compiled', key);
  const result: CompiledSd = {
    key,
    dir,
    modelHash: hash,
    unetFeatures: path.join(dir, 'unet', 'features.onnx'),
    textFromEmbeds: path.join(dir, 'text', 'from-embeds.onnx'),
    embed: path.join(dir, 'text', 'embed.onnx'),
  };
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) return result;

  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const steps = 3;
  const step = (done: number, detail: string) => {
    task?.token.throwIfCancelled();
    task?.progress({ stage: 'compiling graphs', done, total: steps, detail });
  };
  try {
    step(0, 'UNet feature graph');
    const unet = tap(loadModel(folder.unet), FEATURE_SCOPE, 'features');
    saveModel(unet.model, path.join(tmp, 'unet', 'features.onnx'), { externalData: 'always' });
    step(1, 'text encoder from embeddings');
    const text = loadModel(folder.textEncoder);
    const fromEmbeds = cut(text, 'embeddings', 'inputs_embeds');
    if (!fromEmbeds.model.graph.outputs.some((o) => o.name === 'last_hidden_state')) {
      throw new AppError('INVALID_ARGUMENT', `${folder.textEncoder}: last_hidden_state does not survive cutting at the embeddings`);
    }
    fromEmbeds.model.graph.outputs = fromEmbeds.model.graph.outputs.filter((o) => o.name === 'last_hidden_state');
    saveModel(fromEmbeds.model, path.join(tmp, 'text', 'from-embeds.onnx'), { externalData: 'always' });
    step(2, 'embed graph');
    const embed = tap(text, 'embeddings', 'embeds');
    saveModel(embed.model, path.join(tmp, 'text', 'embed.onnx'), { externalData: 'always' });
    fs.writeFileSync(
      path.join(tmp, 'manifest.json'),
      JSON.stringify({ compiler: COMPILER_VERSION, modelHash: hash, source: folder.dir, scope: FEATURE_SCOPE, created: new Date().toISOString() }, null, 2),
    );
    publishDir(tmp, dir, (d) => fs.existsSync(path.join(d, 'manifest.json')));
    step(3, 'done');
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return result;
}

/**
 * A model folder's validation report for the UI: the engine's folder checks
 * (engine/sd4match/model/model-folder.ts) turned into a list of problems and warnings plus the facts
 * they found, instead of one error, and what a usable Stable Diffusion folder can do
 * (capabilities.ts). A folder that does not exist is an error about the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError, FieldError } from '../../shared/errors.js';
import { inspectDinoFolder, inspectSdFolder } from '../sd4match/model/model-folder.js';
import { probeSdParts, sdCapabilities } from './capabilities.js';
import type { ModelFacts, ModelKind, ModelValidation } from './facts.js';

/** Splits the folder checks' message ("X is not usable:\n  - a\n  - b") into its problems. */
function problemsOf(message: string): string[] {
  const lines = message.split('\n');
  const items = lines.filter((l) => /^\s+- /.test(l)).map((l) => l.replace(/^\s+- /, '').trim());
  return items.length > 0 ? items : [message];
}

/**
 * Validates a folder of the given kind; throws FieldError('folder') when it is not a folder.
 * `dinoRegistered` says whether a DINOv2 model is registered (CPM prompts need one).
 */
export function validateModelFolder(kind: ModelKind, folderArg: string, opts: { dinoRegistered?: boolean } = {}): ModelValidation {
  const folder = path.resolve(folderArg);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(folder);
  } catch {
    throw new FieldError('NOT_FOUND', 'folder', `${folder} does not exist`);
  }
  if (!stat.isDirectory()) throw new FieldError('INVALID_ARGUMENT', 'folder', `${folder} is a file, not a folder`);
  try {
    if (kind === 'stable-diffusion') {
      const sd = inspectSdFolder(folder);
      const facts: ModelFacts = { hiddenSize: sd.hiddenSize, latentChannels: sd.latentChannels, scalingFactor: sd.scalingFactor, tokenizer: sd.tokenizer !== null };
      const capabilities = sdCapabilities(probeSdParts(sd.dir), { registered: opts.dinoRegistered ?? false });
      return { ok: true, kind, folder: sd.dir, problems: [], warnings: sd.warnings, facts, capabilities };
    }
    const dino = inspectDinoFolder(folder, { inferWidth: true });
    // a dynamic width (0) is not a fact worth showing
    return { ok: true, kind, folder: dino.dir, problems: [], warnings: [], facts: { ...(dino.hiddenSize > 0 ? { hiddenSize: dino.hiddenSize } : {}), patch: dino.patch }, capabilities: null };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { ok: false, kind, folder, problems: problemsOf(err.message), warnings: [], facts: {}, capabilities: null };
  }
}

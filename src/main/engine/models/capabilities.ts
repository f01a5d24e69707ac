/**
 * What a Stable Diffusion folder can be used for (facts.ts CAPABILITIES), found from the parts each
 * use needs, with cheap checks only (small files; no ONNX graph is read), so the server can state
 * them in every model list and refuse an action up front instead of failing its job:
 * - the tokenizer: every prompt made of token ids needs it. That includes the empty prompt, which
 *   is not a constant: it is [start, end, padding x 75] in the tokenizer's ids, and the padding
 *   differs between releases (SD 2 pads with "!" = 0, SD 1 with <|endoftext|> = 49407; other
 *   exports have other vocabularies), so it cannot be assumed when the tokenizer is missing.
 *   Training starts every prompt kind from those ids too, and guidance in generation runs against
 *   the empty prompt. The tokenizer is loaded once per version of its files, so a broken one is
 *   found here rather than in a job.
 * - the VAE decoder and a DDIM-compatible scheduler configuration: generation only.
 * Learned prompts (Single, Class, CPM) and the DINOv2 baseline need none of these.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { readDdimConfig } from '../sd4match/generation/ddim.js';
import { vaeDecoderOf } from '../sd4match/generation/generate.js';
import { findTokenizer } from '../sd4match/model/model-folder.js';
import type { PromptSpec } from '../sd4match/features/pipeline.js';
import { loadClipTokenizer } from '../sd4match/model/tokenizer.js';
import { CAPABILITIES, CAPABILITY_VERBS, type CapabilityName, type ModelCapabilities } from './facts.js';

/** Why each part a capability needs cannot be used (the part named first), or null when it can. */
export interface SdParts {
  tokenizer: string | null;
  vaeDecoder: string | null;
  scheduler: string | null;
}

/** A tokenizer's problem (null: it loads) by its files' paths, sizes and modification times. */
const tokenizerChecks = new Map<string, string | null>();

function tokenizerProblem(dir: string): string | null {
  const files = findTokenizer(dir);
  if (!files) {
    return fs.existsSync(path.join(dir, 'tokenizer'))
      ? 'tokenizer/ has neither vocab.json + merges.txt nor tokenizer.json'
      : 'no tokenizer/ folder (vocab.json + merges.txt, or tokenizer.json)';
  }
  const tokDir = path.join(dir, 'tokenizer');
  const version = [...Object.values(files), path.join(tokDir, 'tokenizer_config.json'), path.join(tokDir, 'special_tokens_map.json')].map((f) => {
    try {
      const st = fs.statSync(f);
      return `${f}:${st.size}:${st.mtimeMs}`;
    } catch {
      return `${f}:-`;
    }
  });
  const key = version.join('|');
  if (tokenizerChecks.has(key)) return tokenizerChecks.get(key)!;
  let problem: string | null = null;
  try {
    loadClipTokenizer(files, dir);
  } catch (e) {
    problem = `the tokenizer cannot be loaded: ${(e as Error).message}`;
  }
  if (tokenizerChecks.size > 64) tokenizerChecks.clear();
  tokenizerChecks.set(key, problem);
  return problem;
}

/** Checks the parts of a Stable Diffusion folder the capabilities depend on (small files only). */
export function probeSdParts(dir: string): SdParts {
  let vaeDecoder: string | null = null;
  try {
    vaeDecoderOf(dir);
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    vaeDecoder = e.message;
  }
  let scheduler: string | null = null;
  const schedulerFile = path.join(dir, 'scheduler', 'scheduler_config.json');
  if (!fs.existsSync(schedulerFile)) scheduler = 'no scheduler/scheduler_config.json: DDIM sampling reads its noise schedule from it';
  else {
    try {
      readDdimConfig(schedulerFile);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      scheduler = e.message;
    }
  }
  return { tokenizer: tokenizerProblem(dir), vaeDecoder, scheduler };
}

function capability(problems: (string | null)[]): { ok: boolean; reason: string | null } {
  const found = problems.filter((p): p is string => p !== null);
  return found.length === 0 ? { ok: true, reason: null } : { ok: false, reason: found.join('; ') };
}

/** What a folder with these parts can do; CPM also needs a registered DINOv2 model. */
export function sdCapabilities(parts: SdParts, dino: { registered: boolean }): ModelCapabilities {
  const tok = parts.tokenizer;
  const training = capability([tok && `${tok}: Single, Class and CPM prompts start from the tokenizer's start, end and padding tokens`]);
  return {
    features: capability([tok && `${tok}: the empty prompt is made of the tokenizer's start, end and padding tokens, which differ between releases`]),
    textPrompts: capability([tok && `${tok}: the template and free-text prompts are tokenized with it`]),
    training,
    generation: capability([parts.vaeDecoder, tok && `${tok}: classifier-free guidance runs against the empty prompt`, parts.scheduler]),
    cpm: training.ok
      ? capability([dino.registered ? null : 'no DINOv2 model is registered: CPM prompts are conditioned on DINOv2 features of each pair (add a DINOv2 folder under Models)'])
      : training,
  };
}

/** The capabilities of a folder that is gone: none, each saying so. */
export function goneCapabilities(dir: string): ModelCapabilities {
  const reason = `the folder ${dir} is gone: check the model again and point it at where the folder is now`;
  return Object.fromEntries(CAPABILITIES.map((c) => [c, { ok: false, reason }])) as ModelCapabilities;
}

/** Throws INVALID_ARGUMENT "`who` cannot <do it>: <reason>" when `cap` is off. */
export function requireCapability(caps: ModelCapabilities, cap: CapabilityName, who: string): void {
  const c = caps[cap];
  if (!c.ok) throw new AppError('INVALID_ARGUMENT', `${who} cannot ${CAPABILITY_VERBS[cap]}: ${c.reason}`);
}

/** The capability a prompt needs of its model beyond a valid folder, or null (learned prompts, the DINOv2 baseline). */
export function capabilityForPrompt(spec: PromptSpec): CapabilityName | null {
  if (spec.kind === 'empty') return 'features';
  if (spec.kind === 'template') return 'textPrompts';
  return null;
}

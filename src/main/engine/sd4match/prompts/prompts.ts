/**
 * Prompts: the empty prompt, the template "a photo of a {category}" (CLIP BPE tokenizer from the
 * model folder), and learned prompts (Single, Class, CPM) stored as safetensors files whose
 * metadata records what they were trained for. Everything resolves to the UNet's
 * encoder_hidden_states [1, 77, D]; CPM prompts depend on the pair.
 */
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { HostTensor } from '../../onnx/ir.js';
import { CONTEXT_LENGTH, type ClipTokenizer, loadClipTokenizer } from '../model/tokenizer.js';
import type { SdModel } from '../model/sd-model.js';

export const PROMPT_FORMAT = 'sd4match-prompt/1';
export const DEFAULT_TEMPLATE = 'a photo of a {category}';

// defined beside the training defaults, which the renderer loads: that module must stay Node-free
import type { PromptKind } from '../training/train-config.js';
export type { PromptKind };

export interface PromptMeta {
  kind: PromptKind;
  /** Content hash of the Stable Diffusion model it was trained with. */
  modelHash: string;
  imageSize: number;
  timestep: number;
  runId?: string;
  dataset?: string;
  categories: string[];
  created: string;
}

export interface LearnedPrompt {
  file: string;
  meta: PromptMeta;
  /** single: token_embeds; class: token_embeds.<category>; cpm: its parameters and sos_eos_embeds. */
  tensors: Record<string, HostTensor>;
}

const tokenizers = new WeakMap<SdModel, ClipTokenizer>();

export function tokenizerOf(sd: SdModel): ClipTokenizer {
  const hit = tokenizers.get(sd);
  if (hit) return hit;
  if (!sd.folder.tokenizer) {
    throw new AppError('INVALID_ARGUMENT', `text prompts need a tokenizer, but ${path.join(sd.folder.dir, 'tokenizer')} has neither vocab.json + merges.txt nor tokenizer.json`);
  }
  const t = loadClipTokenizer(sd.folder.tokenizer, sd.folder.dir);
  tokenizers.set(sd, t);
  return t;
}

export function idsTensor(ids: number[]): HostTensor {
  return { dtype: 'int64', dims: [1, ids.length], data: BigInt64Array.from(ids.map((i) => BigInt(i))) };
}

/** Hidden states of a text prompt ("" is the empty prompt). */
export async function promptHiddenStates(sd: SdModel, text: string): Promise<HostTensor> {
  return sd.encodeIds(idsTensor(tokenizerOf(sd).encode(text)));
}

/** PF-Willow's folder names ("car(G)") name the class before the parenthesis. */
export function categoryWord(category: string): string {
  const i = category.indexOf('(');
  return (i > 0 ? category.slice(0, i) : category).replace(/[_-]+/g, ' ').trim();
}

export function templateText(template: string, category: string): string {
  return template.replaceAll('{category}', categoryWord(category));
}

export function saveLearnedPrompt(file: string, meta: PromptMeta, tensors: Record<string, HostTensor>): void {
  writeSafetensors(file, tensors, {
    format: PROMPT_FORMAT,
    kind: meta.kind,
    model_hash: meta.modelHash,
    image_size: String(meta.imageSize),
    timestep: String(meta.timestep),
    run_id: meta.runId ?? '',
    dataset: meta.dataset ?? '',
    categories: JSON.stringify(meta.categories),
    created: meta.created,
  });
}

export function loadLearnedPrompt(file: string): LearnedPrompt {
  const st = readSafetensors(file);
  const md = st.metadata;
  if (md.format !== PROMPT_FORMAT) {
    throw new AppError('INVALID_ARGUMENT', `${file} is not an SD4Match prompt file (metadata format '${md.format ?? 'missing'}', expected '${PROMPT_FORMAT}')`);
  }
  const kind = md.kind as PromptKind;
  if (!['single', 'class', 'cpm'].includes(kind)) throw new AppError('INVALID_ARGUMENT', `${file}: unknown prompt kind '${md.kind}'`);
  let categories: string[];
  try {
    categories = JSON.parse(md.categories ?? '[]') as string[];
  } catch {
    throw new AppError('INVALID_ARGUMENT', `${file}: metadata 'categories' is not a JSON list`);
  }
  const meta: PromptMeta = {
    kind,
    modelHash: md.model_hash ?? '',
    imageSize: Number(md.image_size),
    timestep: Number(md.timestep),
    runId: md.run_id || undefined,
    dataset: md.dataset || undefined,
    categories,
    created: md.created ?? '',
  };
  const need = kind === 'single' ? ['token_embeds'] : kind === 'class' ? categories.map((c) => `token_embeds.${c}`) : ['global_embeds', 'sos_eos_embeds'];
  for (const n of need) if (!st.tensors[n]) throw new AppError('INVALID_ARGUMENT', `${file}: tensor '${n}' is missing`);
  return { file, meta, tensors: st.tensors };
}

/** Refuses a prompt trained for another model or image size. */
export function checkPromptFits(p: LearnedPrompt, sd: SdModel, imageSize: number): void {
  if (p.meta.modelHash !== sd.compiled.modelHash) {
    throw new AppError('INVALID_ARGUMENT', `${p.file} was trained for another model (hash ${p.meta.modelHash.slice(0, 12)}); ${sd.folder.dir} has hash ${sd.compiled.modelHash.slice(0, 12)}`);
  }
  if (p.meta.imageSize !== imageSize) {
    throw new AppError('INVALID_ARGUMENT', `${p.file} was trained at image size ${p.meta.imageSize}; this evaluation uses ${imageSize} (pass --size ${p.meta.imageSize})`);
  }
  const hidden = Object.values(p.tensors)[0]?.dims.at(-1);
  if (hidden !== sd.folder.hiddenSize) {
    throw new AppError('INVALID_ARGUMENT', `${p.file} holds ${hidden}-wide embeddings; this model's text encoder is ${sd.folder.hiddenSize} wide`);
  }
}

/** Token embeddings [1, 77, D] of a Single or Class prompt for a category. */
export function tokenEmbedsFor(p: LearnedPrompt, category: string): HostTensor {
  if (p.meta.kind === 'single') return p.tensors.token_embeds;
  if (p.meta.kind === 'class') {
    const t = p.tensors[`token_embeds.${category}`];
    if (!t) throw new AppError('INVALID_ARGUMENT', `${p.file} has no prompt for category '${category}' (it has: ${p.meta.categories.join(', ')})`);
    return t;
  }
  throw new AppError('INTERNAL', 'CPM prompts depend on the pair');
}

export { CONTEXT_LENGTH };

/** Learned prompt files for tests, written in the format training writes (random parameters). */
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { CPM_DEFAULTS, CPM_PARAMS, cpmParamShapes } from '../../src/main/engine/sd4match/prompts/cpm.js';
import { type PromptKind, saveLearnedPrompt } from '../../src/main/engine/sd4match/prompts/prompts.js';
import { Rng } from './random.js';

export function writePromptFile(
  file: string,
  kind: PromptKind,
  o: { modelHash: string; imageSize: number; hidden: number; dino?: number; categories?: string[]; timestep?: number; seed?: number },
): void {
  const rng = new Rng(o.seed ?? 11);
  const t = (dims: number[], scale = 0.5): HostTensor => ({ dtype: 'float32', dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()) });
  const tensors: Record<string, HostTensor> = {};
  if (kind === 'single') tensors.token_embeds = t([1, 77, o.hidden]);
  if (kind === 'class') for (const c of o.categories ?? []) tensors[`token_embeds.${c}`] = t([1, 77, o.hidden]);
  if (kind === 'cpm') {
    const shapes = cpmParamShapes({ B: 1, dino: o.dino ?? 32, hidden: o.hidden, ...CPM_DEFAULTS });
    for (const p of CPM_PARAMS) tensors[p] = t(shapes[p], p.startsWith('linear_') ? 0.05 : 0.5);
    tensors.sos_eos_embeds = t([1, 2, o.hidden]);
  }
  saveLearnedPrompt(
    file,
    { kind, modelHash: o.modelHash, imageSize: o.imageSize, timestep: o.timestep ?? 261, categories: kind === 'class' ? (o.categories ?? []) : [], created: new Date(0).toISOString() },
    tensors,
  );
}

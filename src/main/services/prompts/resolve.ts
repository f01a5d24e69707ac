/**
 * The prompt resolver: what a stored prompt stands for (a baseline's specification, or a learned
 * prompt's tensors and metadata read back from the store). Evaluation, Compare, Suggest,
 * generation and timestep sweeps all turn a prompt id into a `PromptSpec` here.
 */
import { AppError } from '../../shared/errors.js';
import type { HostTensor } from '../../engine/onnx/ir.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { LearnedPrompt, PromptKind } from '../../engine/sd4match/prompts/prompts.js';
import { TRAIN_DEFAULTS } from '../../engine/sd4match/training/train-config.js';
import type { Services } from '../app/context.js';

/** The prompt spec a stored prompt stands for. */
export function promptSpecOf(svc: Services, promptId: number): { spec: PromptSpec; name: string; needsDino: boolean } {
  const p = svc.repos.prompts.get(promptId);
  if (!p) throw new AppError('NOT_FOUND', `no prompt with id ${promptId}`);
  if (p.kind === 'baseline') {
    const spec = (p.config as { spec?: PromptSpec }).spec;
    if (!spec) throw new AppError('INVALID_ARGUMENT', `baseline prompt ${promptId} has no specification`);
    return { spec, name: p.name, needsDino: spec.kind === 'dino' };
  }
  const tensors = svc.repos.prompts.tensors(promptId);
  const cfg = p.config as { imageSize?: number; timestep?: number; categories?: string[] };
  const prov = p.provenance as { file?: string; created?: string; modelHash?: string; runId?: string | null; dataset?: string | null };
  const learned: LearnedPrompt = {
    file: prov.file || `prompt ${promptId}`,
    meta: {
      kind: p.kind as PromptKind,
      modelHash: prov.modelHash ?? '',
      imageSize: cfg.imageSize ?? TRAIN_DEFAULTS.size,
      timestep: cfg.timestep ?? TRAIN_DEFAULTS.timestep,
      runId: prov.runId ?? undefined,
      dataset: prov.dataset ?? undefined,
      categories: cfg.categories ?? [],
      created: prov.created ?? String(p.createdAt),
    },
    tensors: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dtype: t.dtype, dims: t.dims, data: t.data } as HostTensor])),
  };
  return { spec: { kind: 'learned', prompt: learned }, name: p.name, needsDino: p.kind === 'cpm' };
}

/**
 * The prompts a window chooses from: every learned prompt (of a dataset) and the baselines
 * (empty, template, DINOv2), which are stored as prompts too so every evaluation attaches to one.
 */
import { AppError } from '../../shared/errors.js';
import { describePrompt, type PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { PromptSummary } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';

const BASELINES: { name: string; spec: PromptSpec }[] = [
  { name: describePrompt({ kind: 'empty' }), spec: { kind: 'empty' } },
  { name: describePrompt({ kind: 'template' }), spec: { kind: 'template' } },
  { name: describePrompt({ kind: 'dino' }), spec: { kind: 'dino' } },
];

function baselineKind(spec: PromptSpec | undefined): 'empty' | 'template' | 'dino' | null {
  return spec?.kind === 'empty' || spec?.kind === 'template' || spec?.kind === 'dino' ? spec.kind : null;
}

export async function listPrompts(ctx: AppContext, datasetId?: number): Promise<PromptSummary[]> {
  const svc = ctx.services();
  if (datasetId !== undefined && !svc.repos.datasets.find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
  await svc.store.write(() => {
    const have = new Set(svc.repos.prompts.list({ kind: 'baseline' }).map((p) => p.name));
    for (const b of BASELINES) if (!have.has(b.name)) svc.repos.prompts.create({ name: b.name, kind: 'baseline', config: { spec: b.spec } });
  });
  return svc.repos.prompts
    .list({})
    .filter((p) => datasetId === undefined || p.kind === 'baseline' || p.datasetId === datasetId)
    .map((p) => ({
      id: p.id,
      name: p.name,
      kind: p.kind,
      runId: p.runId,
      datasetId: p.datasetId,
      modelId: p.modelId,
      categories: ((p.config as { categories?: string[] }).categories ?? []) as string[],
      createdAt: p.createdAt,
      needsDino: p.kind === 'cpm' || (p.kind === 'baseline' && (p.config as { spec?: PromptSpec }).spec?.kind === 'dino'),
      baseline: p.kind === 'baseline' ? baselineKind((p.config as { spec?: PromptSpec }).spec) : null,
    }));
}

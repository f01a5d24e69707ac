/**
 * The run history's rows (components/runs/history.ts): a timestep sweep's evaluations fold into
 * one row at the place of the newest, expand to them in timestep order, and say how the sweep
 * stands; and the launch form's remembered values (launch.ts) come back only where they fit.
 */
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/main/contract/index.js';
import { historyRows, sweepStatus, timestepRange } from '../../src/renderer/src/lib/components/runs/history.js';
import { defaultDraft, rememberedOf, restoreDraft } from '../../src/renderer/src/lib/components/runs/launch.js';

function run(id: number, over: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    kind: 'train',
    name: `run ${id}`,
    status: 'completed',
    datasetId: 1,
    dataset: 'shift',
    modelId: 1,
    promptId: null,
    provider: 'cpu',
    step: 10,
    totalSteps: 10,
    bestPck: null,
    config: {},
    failureReason: null,
    createdAt: 1000 + id,
    startedAt: 1000 + id,
    finishedAt: 2000 + id,
    seconds: 2,
    pastSeconds: 2,
    resumedAt: null,
    jobId: null,
    resumable: false,
    ...over,
  };
}

const plan = { timesteps: [0, 50, 100], promptIds: [4] };
const evalOf = (id: number, t: number, over: Partial<RunSummary> = {}) =>
  run(id, { kind: 'eval', name: `t=${t}`, config: { sweep: 'sw1', sweepPlan: plan, timestep: t, prompt: 'empty prompt', split: 'val' }, ...over });
const seconds = (r: RunSummary) => r.seconds;

describe('history rows', () => {
  // newest first, as runs:list gives them; the sweep's evaluations ran as 3, 5, 6 (t = 100 last)
  const list = [evalOf(6, 100, { bestPck: 0.3 }), evalOf(5, 0, { bestPck: 0.5 }), run(4), evalOf(3, 50, { bestPck: 0.4 }), run(2)];

  it('folds a sweep into one row where its newest evaluation was', () => {
    const rows = historyRows(list, {}, 0, seconds);
    expect(rows.map((r) => (r.kind === 'run' ? r.run.id : r.sweep.id))).toEqual(['sw1', 4, 2]);
    const s = rows[0]!.kind === 'sweep' ? rows[0]!.sweep : null;
    expect(s).toMatchObject({ done: 3, planned: 3, timesteps: [0, 50, 100], prompts: ['empty prompt'], status: 'completed', split: 'val', seconds: 6, createdAt: 1003 });
    expect(s!.best).toEqual({ pck: 0.5, timestep: 0, prompt: 'empty prompt' });
  });

  it('expands to its evaluations in timestep order', () => {
    const rows = historyRows(list, { sw1: true }, 0, seconds);
    expect(rows.map((r) => (r.kind === 'run' ? `${r.run.id}${r.sweepId ? '@' + r.sweepId : ''}` : r.sweep.id))).toEqual(['sw1', '5@sw1', '3@sw1', '6@sw1', '4', '2']);
  });

  it('counts the planned evaluations of a sweep still running, and says it runs', () => {
    const partial = [evalOf(3, 50, { status: 'running' }), evalOf(2, 0)];
    const [row] = historyRows(partial, {}, 0, seconds);
    expect(row!.kind === 'sweep' && [row!.sweep.done, row!.sweep.planned, row!.sweep.status]).toEqual([1, 3, 'running']);
    expect(sweepStatus([evalOf(1, 0), evalOf(2, 50, { status: 'failed' })])).toBe('failed');
    expect(sweepStatus([evalOf(1, 0), evalOf(2, 50, { status: 'cancelled' })])).toBe('cancelled');
  });

  it('leaves evaluations outside sweeps alone', () => {
    const rows = historyRows([run(2, { kind: 'eval', config: { prompt: 'x' } }), run(1)], {}, 0, seconds);
    expect(rows.map((r) => r.kind)).toEqual(['run', 'run']);
    expect(timestepRange([0, 50, 200])).toBe('t = 0–200');
    expect(timestepRange([261])).toBe('t = 261');
  });
});

describe('launch form memory', () => {
  it('remembers everything but the dataset and the name, and restores only values of the right kind', () => {
    const d = { ...defaultDraft(), datasetId: 3, name: 'mine', steps: '120', schedule: 'cosine' as const, modelId: 7 };
    const saved = JSON.parse(JSON.stringify(rememberedOf(d))) as Record<string, unknown>;
    expect(saved).not.toHaveProperty('datasetId');
    expect(saved).not.toHaveProperty('name');
    const back = defaultDraft();
    restoreDraft(back, { ...saved, datasetId: 9, name: 'other', bogus: 1 });
    expect(back).toMatchObject({ steps: '120', schedule: 'cosine', modelId: 7, datasetId: null, name: '' });
    expect(back).not.toHaveProperty('bogus');
    const fresh = defaultDraft();
    restoreDraft(fresh, { steps: 120, schedule: 'weekly', prompt: 'class', modelId: -2, dinoModelId: 'x' });
    expect(fresh).toMatchObject({ steps: defaultDraft().steps, schedule: defaultDraft().schedule, prompt: 'class', modelId: null, dinoModelId: null });
    restoreDraft(fresh, 'garbage');
    restoreDraft(fresh, null);
    expect(fresh.steps).toBe(defaultDraft().steps);
  });
});

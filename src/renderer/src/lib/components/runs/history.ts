/**
 * The rows of the run history: runs newest first, with the evaluations of a timestep sweep folded
 * into one row per sweep (a sweep is dozens of evaluations, one per timestep and prompt; listed
 * one by one they would bury every other run). A sweep's row sits where its newest evaluation
 * would, and expands to its evaluations in timestep order.
 */
import type { RunStatus, RunSummary } from '../../../../../main/contract/index.js';

/** One timestep sweep, as the history shows it. */
export interface SweepGroup {
  id: string;
  /** Its evaluations, by timestep (then prompt, in the order they ran). */
  runs: RunSummary[];
  /** What the sweep as a whole is doing (see `sweepStatus`). */
  status: RunStatus;
  /** Evaluations stored so far, and planned (timesteps x prompts; at least those stored). */
  done: number;
  planned: number;
  /** The prompts evaluated, by name, in the order first seen. */
  prompts: string[];
  timesteps: number[];
  /** The best PCK@0.1 of any of its evaluations, and where it was reached. */
  best: { pck: number; timestep: number | null; prompt: string } | null;
  dataset: string | null;
  split: string | null;
  provider: string | null;
  createdAt: number;
  /** Seconds its evaluations ran, together (null while none has started). */
  seconds: number | null;
}

export type HistoryRow = { kind: 'run'; run: RunSummary; sweepId: string | null } | { kind: 'sweep'; sweep: SweepGroup; expanded: boolean };

interface SweepConfig {
  sweep?: unknown;
  sweepPlan?: { timesteps?: unknown; promptIds?: unknown };
  timestep?: unknown;
  prompt?: unknown;
  split?: unknown;
}

/** The sweep an evaluation belongs to (the `sweep` id its config records), or null. */
export function sweepIdOf(r: RunSummary): string | null {
  const c = r.config as SweepConfig;
  return r.kind === 'eval' && typeof c.sweep === 'string' && c.sweep !== '' ? c.sweep : null;
}

function timestepOf(r: RunSummary): number | null {
  const t = (r.config as SweepConfig).timestep;
  return typeof t === 'number' ? t : null;
}

function promptNameOf(r: RunSummary): string {
  const p = (r.config as SweepConfig).prompt;
  return typeof p === 'string' ? p : r.name;
}

/**
 * A sweep's status from its evaluations: running while one runs; failed or cancelled when one
 * did; completed once every evaluation stored has completed (the planned count tells whether all
 * were run).
 */
export function sweepStatus(runs: readonly RunSummary[]): RunStatus {
  const has = (s: RunStatus) => runs.some((r) => r.status === s);
  if (has('running')) return 'running';
  if (has('queued')) return 'queued';
  if (has('failed')) return 'failed';
  if (has('cancelled')) return 'cancelled';
  if (has('paused')) return 'paused';
  return 'completed';
}

function group(id: string, members: RunSummary[], now: number, secondsOf: (r: RunSummary, now: number) => number | null): SweepGroup {
  const runs = [...members].sort((a, b) => (timestepOf(a) ?? 0) - (timestepOf(b) ?? 0) || a.id - b.id);
  const plan = (runs[0]!.config as SweepConfig).sweepPlan;
  const plannedTimesteps = Array.isArray(plan?.timesteps) ? plan.timesteps.length : 0;
  const plannedPrompts = Array.isArray(plan?.promptIds) ? plan.promptIds.length : 0;
  const prompts = [...new Set(runs.map(promptNameOf))];
  const timesteps = [...new Set(runs.map(timestepOf).filter((t): t is number => t !== null))].sort((a, b) => a - b);
  let best: SweepGroup['best'] = null;
  for (const r of runs) {
    if (r.bestPck !== null && (best === null || r.bestPck > best.pck)) best = { pck: r.bestPck, timestep: timestepOf(r), prompt: promptNameOf(r) };
  }
  let seconds: number | null = null;
  for (const r of runs) {
    const s = secondsOf(r, now);
    if (s !== null) seconds = (seconds ?? 0) + s;
  }
  const split = (runs[0]!.config as SweepConfig).split;
  return {
    id,
    runs,
    status: sweepStatus(runs),
    done: runs.filter((r) => r.status === 'completed').length,
    planned: Math.max(runs.length, plannedTimesteps * plannedPrompts),
    prompts,
    timesteps,
    best,
    dataset: runs[0]!.dataset,
    split: typeof split === 'string' ? split : null,
    provider: runs.find((r) => r.provider !== null && r.provider !== 'pending')?.provider ?? null,
    createdAt: Math.min(...runs.map((r) => r.createdAt)),
    seconds,
  };
}

/**
 * The history's rows for `list` (newest first): runs as they are, each sweep's evaluations as one
 * row at the place of its newest, followed by its evaluations when `expanded` holds its id.
 */
export function historyRows(list: readonly RunSummary[], expanded: Readonly<Record<string, boolean>>, now: number, secondsOf: (r: RunSummary, now: number) => number | null): HistoryRow[] {
  const members = new Map<string, RunSummary[]>();
  for (const r of list) {
    const id = sweepIdOf(r);
    if (id === null) continue;
    const m = members.get(id);
    if (m) m.push(r);
    else members.set(id, [r]);
  }
  const rows: HistoryRow[] = [];
  const placed = new Set<string>();
  for (const r of list) {
    const id = sweepIdOf(r);
    if (id === null) {
      rows.push({ kind: 'run', run: r, sweepId: null });
      continue;
    }
    if (placed.has(id)) continue;
    placed.add(id);
    const sweep = group(id, members.get(id)!, now, secondsOf);
    const open = expanded[id] === true;
    rows.push({ kind: 'sweep', sweep, expanded: open });
    if (open) for (const run of sweep.runs) rows.push({ kind: 'run', run, sweepId: id });
  }
  return rows;
}

/** "t = 0–200" for a sweep's timesteps. */
export function timestepRange(ts: readonly number[]): string {
  if (ts.length === 0) return '';
  return ts.length === 1 ? `t = ${ts[0]}` : `t = ${ts[0]}–${ts[ts.length - 1]}`;
}

/** Benchmark helpers: timing statistics, peak RSS, a plain-text table, the model and the execution provider to run on. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../src/main/shared/errors.js';
import { parseProviderChoice, type ProviderChoice, setProviderChoice } from '../src/main/engine/onnx/providers.js';
import { resolveProviders } from '../src/main/engine/onnx/runtime.js';
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function timeRuns(n: number, warmup: number, f: () => Promise<unknown>): Promise<{ median: number; min: number; runs: number[] }> {
  for (let i = 0; i < warmup; i++) await f();
  const runs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    runs.push(performance.now() - t0);
  }
  return { median: median(runs), min: Math.min(...runs), runs };
}

/** Tracks the process's peak resident set size by sampling (ORT's native allocations included). */
export class PeakRss {
  private peak = process.memoryUsage().rss;
  private readonly timer: NodeJS.Timeout;
  constructor(intervalMs = 5) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): number {
    const rss = process.memoryUsage().rss;
    if (rss > this.peak) this.peak = rss;
    return rss;
  }
  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.peak, this.sample());
  }
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  process.stdout.write(`\n${title}\n${line(cells[0])}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of cells.slice(1)) process.stdout.write(`${line(r)}\n`);
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

export function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * The execution provider a benchmark runs on: `--provider <name>`, else SD4MATCH_PROVIDER (as for
 * the CLI), else auto; a wrong name, or a provider that cannot run here, is refused naming where it
 * came from. It becomes this process's choice (every session a bench opens without naming one) and
 * is put in SD4MATCH_PROVIDER, so the processes a bench starts (memory probes, job processes, a
 * bench re-run per size) run on it too. Returns the line to print: what was asked for and what it
 * resolved to (e.g. `auto -> cpu (webgpu skipped: software adapter ...)`).
 */
export async function benchProvider(args: string[]): Promise<{ choice: ProviderChoice; note: string }> {
  const i = args.indexOf('--provider');
  if (i >= 0 && (args[i + 1] === undefined || args[i + 1].startsWith('--'))) throw new AppError('INVALID_ARGUMENT', '--provider needs a value (auto, cpu, webgpu, cuda, tensorrt, dml, coreml)');
  const where = i >= 0 ? '--provider' : 'SD4MATCH_PROVIDER';
  const raw = i >= 0 ? args[i + 1] : process.env.SD4MATCH_PROVIDER;
  const choice = raw === undefined || raw === '' ? 'auto' : parseProviderChoice(raw, where);
  const resolved = await resolveProviders(choice, where);
  setProviderChoice(choice, 'option');
  process.env.SD4MATCH_PROVIDER = choice;
  return { choice, note: resolved.note };
}

/**
 * The model folder a benchmark runs on: `--model-dir` (and `--size`, default 768), else a copy of
 * the tiny fixture model with a generated tokenizer (size default 256) in `work`.
 */
export async function benchModel(args: string[], work: string): Promise<{ modelDir: string; size: number; tiny: boolean }> {
  const given = flag(args, '--model-dir');
  if (given) return { modelDir: given, size: Number(flag(args, '--size') ?? 768), tiny: false };
  const { tinySdWithTokenizer } = await import('../test/helpers/tokenizer-gen.js');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modelDir = tinySdWithTokenizer(path.resolve(here, '../test/fixtures/tiny/models/sd'), path.join(work, 'sd'));
  return { modelDir, size: Number(flag(args, '--size') ?? 256), tiny: true };
}

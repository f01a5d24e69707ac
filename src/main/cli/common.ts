/**
 * Shared CLI plumbing: one way to report errors (a clear line on stderr, non-zero exit, no stack
 * trace for expected errors), progress lines, and option parsers.
 */
import { InvalidArgumentError } from 'commander';
import { AppError, explainError } from '../shared/errors.js';
import { formatError, worthLogging } from '../shared/log.js';
import { CancellationToken, RateMeter, type TaskContext } from '../engine/jobs/progress.js';

/**
 * Prints an error for the user and returns the exit code. The CLI's log is its stderr: with
 * SD4MATCH_DEBUG set, the record the engine's log would get (shared/log.ts: code, detail, a bug's
 * stack, also one carried out of a job process) follows the message; without it, a line says
 * there is more, so the detail is one re-run away rather than lost.
 */
export function reportError(err: unknown): number {
  // a damaged database or a full disk is the user's to fix, not an internal error
  err = explainError(err);
  if (err instanceof AppError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (worthLogging(err)) process.stderr.write(process.env.SD4MATCH_DEBUG ? `${formatError('details', err)}\n` : '(set SD4MATCH_DEBUG=1 for the details)\n');
    return err.code === 'CANCELLED' ? 130 : 1;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`error: ${e.message} (internal error; set SD4MATCH_DEBUG=1 to see the stack)\n`);
  if (process.env.SD4MATCH_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
  return 2;
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got '${value}'`);
    return n;
  };
}

export function parseFloatOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${value}'`);
    return n;
  };
}

/**
 * A TaskContext for the CLI: a progress line on stderr (rewritten in place on a terminal, one line
 * every few seconds otherwise) and Ctrl-C to cancel between steps.
 */
export function cliTask(options: { quiet?: boolean } = {}): TaskContext & { finish(): void } {
  const token = new CancellationToken();
  const meter = new RateMeter();
  const tty = process.stderr.isTTY;
  let last = 0;
  let lastStage = '';
  let open = false;
  const onSigint = () => {
    if (token.cancelled) process.exit(130);
    process.stderr.write('\ncancelling after the current step (Ctrl-C again to abort)\n');
    token.cancel('interrupted (Ctrl-C)');
  };
  process.on('SIGINT', onSigint);
  return {
    token,
    progress(p) {
      if (options.quiet) return;
      const now = Date.now();
      const { rate, etaSeconds } = p.rate !== undefined ? { rate: p.rate, etaSeconds: p.etaSeconds ?? null } : meter.measure(p.stage, p.done, p.total);
      const finished = p.done >= p.total;
      if (p.stage === lastStage && !finished && now - last < (tty ? 200 : 5000)) return;
      last = now;
      lastStage = p.stage;
      const line = `${p.stage} ${p.done}/${p.total} ${rate.toFixed(rate < 10 ? 2 : 0)}/s ETA ${formatSeconds(etaSeconds ?? Infinity)}${p.detail ? `  ${p.detail}` : ''}`;
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
        open = !finished;
        if (finished) process.stderr.write('\n');
      } else {
        process.stderr.write(`${line}\n`);
      }
    },
    log(message) {
      if (open) process.stderr.write('\n');
      open = false;
      process.stderr.write(`${message}\n`);
    },
    finish() {
      if (open) process.stderr.write('\n');
      process.off('SIGINT', onSigint);
    },
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

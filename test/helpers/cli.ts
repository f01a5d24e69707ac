/** Runs the real `sd4match` CLI in a child process (the same entry `npm run sd4match` uses). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The provider a parity run forces (SD4MATCH_TEST_PROVIDER, see provider-setup.ts) reaches the CLIs
 * the tests start as SD4MATCH_PROVIDER (the CLI's `--provider` from the environment), so a suite
 * that checks the CLI's outputs against the reference runs them on that provider too; a test's own
 * `env` or `--provider` still wins.
 */
function forcedProviderEnv(): Record<string, string> {
  const forced = process.env.SD4MATCH_TEST_PROVIDER;
  return forced ? { SD4MATCH_PROVIDER: forced } : {};
}

export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main/cli.ts'), ...args], {
      cwd: REPO,
      env: { ...process.env, ...forcedProviderEnv(), ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The CLI failed as a user should see it: non-zero exit, one `error: ...` line, no stack trace. */
export function expectCleanFailure(r: CliResult, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

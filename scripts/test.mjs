#!/usr/bin/env node
/**
 * `npm test`: the one command that runs every test.
 *
 *   0. a Chrome/Chromium for the browser tests (scripts/chromium.mjs): found, or installed from
 *      Debian's packages when missing and we may; when none can be had, stop before running anything
 *      with the command that gets one
 *   1. electron-vite build       (one test: passed or failed)
 *   2. npm run typecheck         (one test: passed or failed)
 *   3. npm run lint              (ESLint, the layer rules included; one test)
 *   4. npm run format:check      (Prettier; one test)
 *   5. vitest run over test/unit, test/grad, test/integration, test/e2e
 *      (default reporter for people, JSON reporter for the count)
 *
 * Prints skipped tests on their own line, then exactly `N passed, N failed` as the last line, and
 * exits non-zero on any failure. Extra arguments go to vitest (e.g. `npm test -- -t "layering"`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isWindows = process.platform === 'win32';
const bin = (/** @type {string} */ name) => path.join(root, 'node_modules', '.bin', isWindows ? `${name}.cmd` : name);
const TEST_DIRS = ['test/unit', 'test/grad', 'test/integration', 'test/e2e'];
const JSON_REPORT = path.join(root, 'test-results', 'vitest.json');

/** @typedef {{ name: string, ok: boolean, detail: string }} StepResult */

/**
 * Runs a command with inherited output and reports whether it exited with 0.
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @returns {StepResult}
 */
function step(name, command, args) {
  process.stdout.write(`\n▶ ${name}\n`);
  const started = Date.now();
  const run = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: isWindows });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.error) return { name, ok: false, detail: `could not start: ${run.error.message}` };
  if (run.status !== 0) return { name, ok: false, detail: `exit ${run.status ?? run.signal} after ${seconds}s` };
  return { name, ok: true, detail: `${seconds}s` };
}

/**
 * @typedef {{
 *   numPassedTests: number, numFailedTests: number, numPendingTests: number, numTodoTests: number,
 *   testResults: { name: string, status: string, message?: string,
 *                  assertionResults: { status: string }[] }[]
 * }} VitestReport
 */

/**
 * Counts vitest's outcome. A test file that failed without any failed test (an import error, a
 * failing hook) counts as one failure so it cannot pass unnoticed.
 * @param {VitestReport} report
 */
function countVitest(report) {
  let failed = report.numFailedTests;
  /** @type {string[]} */
  const brokenFiles = [];
  for (const file of report.testResults) {
    const failedTests = file.assertionResults.filter((a) => a.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) {
      failed += 1;
      brokenFiles.push(path.relative(root, file.name));
    }
  }
  return {
    passed: report.numPassedTests,
    failed,
    skipped: report.numPendingTests + report.numTodoTests,
    brokenFiles,
  };
}

const browser = ensureChromium();
if ('error' in browser) {
  process.stdout.write(`\nnpm test: ${browser.error}\n0 passed, 1 failed\n`);
  process.exit(1);
}
process.stdout.write(`browser tests use ${browser.path}\n`);
// the tests (and the job processes and browsers they start) read it from here
process.env.SD4MATCH_CHROMIUM = browser.path;

const extraArgs = process.argv.slice(2);
/** @type {StepResult[]} */
const steps = [];
steps.push(step('build: electron-vite build', bin('electron-vite'), ['build']));
steps.push(step('typecheck: npm run typecheck', isWindows ? 'npm.cmd' : 'npm', ['run', 'typecheck']));
// the caches (under node_modules/.cache) keep what an unchanged file got last time; a fresh clone has none
steps.push(step('lint: npm run lint', isWindows ? 'npm.cmd' : 'npm', ['run', '--silent', 'lint']));
steps.push(step('format: npm run format:check', isWindows ? 'npm.cmd' : 'npm', ['run', '--silent', 'format:check', '--', '--log-level', 'warn']));

const dirs = TEST_DIRS.filter((d) => existsSync(path.join(root, d)));
mkdirSync(path.dirname(JSON_REPORT), { recursive: true });
rmSync(JSON_REPORT, { force: true });
const vitest = step('tests: vitest run ' + dirs.join(' '), bin('vitest'), ['run', ...dirs, '--reporter=default', '--reporter=json', `--outputFile.json=${JSON_REPORT}`, ...extraArgs]);

let passed = steps.filter((s) => s.ok).length;
let failed = steps.filter((s) => !s.ok).length;
let skipped = 0;
/** @type {string[]} */
const notes = [];

if (existsSync(JSON_REPORT)) {
  const counts = countVitest(/** @type {VitestReport} */ (JSON.parse(readFileSync(JSON_REPORT, 'utf8'))));
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  for (const f of counts.brokenFiles) notes.push(`test file failed to run: ${f}`);
  notes.push(`vitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${vitest.detail})`);
} else {
  failed += 1;
  notes.push(`vitest produced no report (${vitest.detail}); counted as one failure`);
}

process.stdout.write('\n── summary ──\n');
for (const s of steps) process.stdout.write(`${s.ok ? 'passed' : 'FAILED'}  ${s.name} (${s.detail})\n`);
for (const n of notes) process.stdout.write(`${n}\n`);
process.stdout.write(`${skipped} skipped (not counted as passed)\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;

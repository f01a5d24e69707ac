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
 *   6. WebGPU parity: the fixture parity suites (PARITY_SUITES) again with every session on
 *      onnxruntime-node's WebGPU provider (SD4MATCH_TEST_PROVIDER=webgpu; the CLIs they start get
 *      it as SD4MATCH_PROVIDER), on the adapter scripts/lavapipe.mjs finds or installs (Mesa's
 *      lavapipe without a GPU); counted with the rest, its failures listed with a `[webgpu]`
 *      prefix; when no adapter can be had, skipped with one line naming the command that gets one
 *
 * Prints the failed tests, skipped tests on their own line, then exactly `N passed, N failed` as the
 * last line, and exits non-zero on any failure. Extra arguments go to vitest (e.g.
 * `npm test -- -t "layering"`); the WebGPU parity run is then left out (it says so).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';
import { ensureWebgpu } from './lavapipe.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isWindows = process.platform === 'win32';
const bin = (/** @type {string} */ name) => path.join(root, 'node_modules', '.bin', isWindows ? `${name}.cmd` : name);
const TEST_DIRS = ['test/unit', 'test/grad', 'test/integration', 'test/e2e'];
const JSON_REPORT = path.join(root, 'test-results', 'vitest.json');
const WEBGPU_REPORT = path.join(root, 'test-results', 'vitest-webgpu.json');
/**
 * The fixture parity suites: every computation checked against the reference fixtures
 * (test/fixtures/tiny) or against finite differences, which must hold on WebGPU as on the CPU:
 * the gradient rules, patterns, attention and backprop paths (test/grad); the UNet tap and its VJP,
 * the text encoder and its VJP, in process and through the `graph` CLI (graph-fixtures); the
 * `debug` stages: features, loss and feature gradients, CPM gradients, one training step, the four
 * matching methods and PCK (debug-fixtures); generation (generate-fixtures); DINOv2
 * (dinov2-fixtures). Measured on lavapipe, 2 busy cores: about 3 minutes (CPU: under 1).
 * Left out: self-pair (768 px, 8 noise draws: over 2 minutes a test on lavapipe; its stages are the
 * ones debug-fixtures checks), feature-fusion (2 minutes on lavapipe; it compares the fused paths
 * with each other, not with the reference, and DINOv2 itself is checked by dinov2-fixtures), and
 * the CLI suites whose assertions are about `auto` (models-match-cli). The CPU/WebGPU training
 * comparison (provider-parity-train) runs in the main run.
 */
const PARITY_SUITES = [
  'test/grad',
  'test/integration/graph-fixtures.test.ts',
  'test/integration/debug-fixtures.test.ts',
  'test/integration/generate-fixtures.test.ts',
  'test/integration/dinov2-fixtures.test.ts',
];

/** @typedef {{ name: string, ok: boolean, detail: string }} StepResult */

/**
 * Runs a command with inherited output and reports whether it exited with 0.
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {StepResult}
 */
function step(name, command, args, env = process.env) {
  process.stdout.write(`\n▶ ${name}\n`);
  const started = Date.now();
  const run = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: isWindows, env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.error) return { name, ok: false, detail: `could not start: ${run.error.message}` };
  if (run.status !== 0) return { name, ok: false, detail: `exit ${run.status ?? run.signal} after ${seconds}s` };
  return { name, ok: true, detail: `${seconds}s` };
}

/**
 * @typedef {{
 *   numPassedTests: number, numFailedTests: number, numPendingTests: number, numTodoTests: number,
 *   testResults: { name: string, status: string, message?: string,
 *                  assertionResults: { status: string, fullName?: string, title: string, failureMessages?: string[] }[] }[]
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
  /** @type {string[]} `file > test: first line of the error`, one per failed test */
  const failures = [];
  for (const file of report.testResults) {
    const failedTests = file.assertionResults.filter((a) => a.status === 'failed');
    for (const a of failedTests) {
      const first = (a.failureMessages?.[0] ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
      failures.push(`${path.relative(root, file.name)} > ${a.fullName ?? a.title}: ${first.trim().slice(0, 300)}`);
    }
    if (file.status === 'failed' && failedTests.length === 0) {
      failed += 1;
      brokenFiles.push(path.relative(root, file.name));
    }
  }
  return {
    passed: report.numPassedTests,
    failed,
    skipped: report.numPendingTests + report.numTodoTests,
    brokenFiles,
    failures,
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

// the parity suites again on WebGPU (after the main run: a missing adapter never holds up the rest)
rmSync(WEBGPU_REPORT, { force: true });
/** @type {StepResult | null} */
let webgpu = null;
/** @type {string} */
let webgpuSkip = '';
if (extraArgs.length > 0) {
  webgpuSkip = 'WebGPU parity run left out: extra vitest arguments were given (plain `npm test` runs it)';
} else {
  process.stdout.write('\n▶ WebGPU parity: looking for a WebGPU adapter (scripts/lavapipe.mjs)\n');
  const adapter = ensureWebgpu();
  if ('skip' in adapter) {
    // said once, in the summary
    webgpuSkip = `WebGPU parity run skipped: ${adapter.skip}`;
  } else {
    process.stdout.write(`WebGPU parity runs on ${adapter.adapter}\n`);
    const suites = PARITY_SUITES.filter((s) => existsSync(path.join(root, s)));
    const env = { ...process.env, ...adapter.env, SD4MATCH_TEST_PROVIDER: 'webgpu' };
    webgpu = step(
      `tests [webgpu]: SD4MATCH_TEST_PROVIDER=webgpu vitest run ${suites.join(' ')}`,
      bin('vitest'),
      ['run', ...suites, '--reporter=default', '--reporter=json', `--outputFile.json=${WEBGPU_REPORT}`],
      env,
    );
    if (adapter.env.XDG_RUNTIME_DIR) rmSync(adapter.env.XDG_RUNTIME_DIR, { recursive: true, force: true });
  }
}

let passed = steps.filter((s) => s.ok).length;
let failed = steps.filter((s) => !s.ok).length;
let skipped = 0;
/** @type {string[]} */
const notes = [];
/** @type {string[]} */
const failures = [];

if (existsSync(JSON_REPORT)) {
  const counts = countVitest(/** @type {VitestReport} */ (JSON.parse(readFileSync(JSON_REPORT, 'utf8'))));
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  failures.push(...counts.failures);
  for (const f of counts.brokenFiles) notes.push(`test file failed to run: ${f}`);
  notes.push(`vitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${vitest.detail})`);
} else {
  failed += 1;
  notes.push(`vitest produced no report (${vitest.detail}); counted as one failure`);
}

if (webgpu && existsSync(WEBGPU_REPORT)) {
  const counts = countVitest(/** @type {VitestReport} */ (JSON.parse(readFileSync(WEBGPU_REPORT, 'utf8'))));
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  failures.push(...counts.failures.map((f) => `[webgpu] ${f}`));
  for (const f of counts.brokenFiles) notes.push(`[webgpu] test file failed to run: ${f}`);
  notes.push(`vitest [webgpu]: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${webgpu.detail})`);
} else if (webgpu) {
  failed += 1;
  notes.push(`vitest [webgpu] produced no report (${webgpu.detail}); counted as one failure`);
} else {
  notes.push(webgpuSkip);
}

process.stdout.write('\n── summary ──\n');
for (const s of steps) process.stdout.write(`${s.ok ? 'passed' : 'FAILED'}  ${s.name} (${s.detail})\n`);
for (const f of failures) process.stdout.write(`FAILED  ${f}\n`);
for (const n of notes) process.stdout.write(`${n}\n`);
process.stdout.write(`${skipped} skipped (not counted as passed)\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;

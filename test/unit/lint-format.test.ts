/**
 * The linter and the formatter that `npm test` runs (`npm run lint`, `npm run format:check`) fail on
 * deliberately broken files: one wrong import per layer rule that eslint.config.js states (and the
 * same import's allowed neighbour passes), a plain bug, and a badly formatted snippet.
 *
 * The broken files are linted as text under a path in the tree (`lintText` with `filePath`, the
 * command line's `--stdin-filename`), so the tree's config applies to them exactly as to a file on
 * disk, and nothing is written where other tools or the layering test would see it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';

const LAYER_RULE = '@typescript-eslint/no-restricted-imports';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: REPO_ROOT });
});

/** The problems ESLint reports for `code` as if it were the file `rel` (a repository path), as `rule: message`. */
async function lint(rel: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, rel) });
  return result!.messages.map((m) => `${m.ruleId ?? '(no rule)'}: ${m.message}`);
}

describe('ESLint: layer rules', () => {
  /** [file, its source, what the error must say]: each import breaks one arrow of the layers. */
  const WRONG: [string, string, RegExp][] = [
    ['src/renderer/src/lib/lint-probe.ts', "import fs from 'node:fs';\nexport const x = fs;\n", /renderer runs in the browser: no Node built-ins/],
    ['src/renderer/src/lib/lint-probe.ts', "import path from 'path';\nexport const x = path;\n", /renderer runs in the browser: no Node built-ins/],
    [
      'src/renderer/src/lib/components/runs/LintProbe.svelte',
      '<script lang="ts">\n  import { x } from \'../../../../../main/services/runs/runs.js\';\n  console.log(x);\n</script>\n',
      /renderer imports src\/main only from src\/main\/contract/,
    ],
    ['src/renderer/src/views/LintProbe.svelte', '<script lang="ts">\n  import Database from \'better-sqlite3\';\n  console.log(Database);\n</script>\n', /better-sqlite3 belongs to the main process/],
    ['src/main/engine/onnx/lint-probe.ts', "import { Store } from '../../store/db.js';\nexport const x = Store;\n", /src\/main\/engine may not import store/],
    ['src/main/engine/sd4match/training/lint-probe.ts', "import type { JobInfo } from '../../../contract/jobs.js';\nexport type X = JobInfo;\n", /src\/main\/engine may not import .*contract/],
    ['src/main/engine/lint-probe.ts', "import { x } from '../services/runs/runs.js';\nexport const y = x;\n", /src\/main\/engine may not import .*services/],
    ['src/main/store/lint-probe.ts', "import { runsSchemas } from '../contract/runs.js';\nexport const x = runsSchemas;\n", /src\/main\/store may reach contract with `import type` only/],
    ['src/main/store/repositories/lint-probe.ts', "import { x } from '../../services/runs/runs.js';\nexport const y = x;\n", /src\/main\/store may not import services/],
    ['src/main/contract/lint-probe.ts', "import { x } from '../store/db.js';\nexport const y = x;\n", /src\/main\/contract may not import store/],
    ['src/main/contract/lint-probe.ts', "import { Trainer } from '../engine/sd4match/training/trainer.js';\nexport const x = Trainer;\n", /contract loads only the engine's pure constants/],
    ['src/main/services/runs/lint-probe.ts', "import { x } from '../../api/handlers.js';\nexport const y = x;\n", /src\/main\/services may not import api/],
    ['src/main/services/runs/lint-probe.ts', "import { app } from 'electron';\nexport const x = app;\n", /Only src\/main\/electron\/, src\/main\/index\.ts and src\/preload\/ import 'electron'/],
    ['src/main/cli/lint-probe.ts', "import { app } from 'electron';\nexport const x = app;\n", /Only src\/main\/electron\//],
    ['src/main/api/handlers/lint-probe.ts', "import { x } from '../../store/db.js';\nexport const y = x;\n", /src\/main\/api may not import store/],
    ['src/main/transport/lint-probe.ts', "import { x } from '../services/runs/runs.js';\nexport const y = x;\n", /src\/main\/transport may not import services/],
    ['src/main/shared/lint-probe.ts', "import { x } from '../engine/onnx/ir.js';\nexport const y = x;\n", /src\/main\/shared may not import engine/],
    ['src/main/engine/lint-probe.ts', "import { x } from '../electron/ipc.js';\nexport const y = x;\n", /may not depend on an entry point/],
    ['src/main/electron/window.ts', "import { ipcMain } from 'electron';\nexport const x = ipcMain;\n", /`ipcMain` is used only in src\/main\/electron\/ipc\.ts/],
    [
      'src/preload/index.ts',
      "import { runsSchemas } from '../main/contract/runs.js';\nexport const x = runsSchemas;\n",
      /preload reaches src\/main\/contract and src\/main\/shared with `import type` only/,
    ],
    ['src/preload/index.ts', "import type { Store } from '../main/store/db.js';\nexport type X = Store;\n", /preload reaches src\/main only for the contract and shared/],
  ];

  it.each(WRONG)('%s: wrong import %# is refused', async (file, code, message) => {
    const problems = await lint(file, code);
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${LAYER_RULE}: .*${message.source}`))]);
  });

  /** The allowed neighbours of the imports above: the rules do not overreach. */
  const RIGHT: [string, string][] = [
    [
      'src/renderer/src/lib/lint-probe.ts',
      "import { runsSchemas } from '../../../main/contract/runs.js';\nimport { AppError } from '../../../main/shared/errors.js';\nexport const x = [runsSchemas, AppError];\n",
    ],
    ['src/main/engine/onnx/lint-probe.ts', "import { x } from '../autodiff/registry.js';\nimport { AppError } from '../../shared/errors.js';\nexport const y = [x, AppError];\n"],
    ['src/main/store/lint-probe.ts', "import type { RunInfo } from '../contract/runs.js';\nimport { x } from '../engine/onnx/ir.js';\nexport type Y = RunInfo;\nexport const z = x;\n"],
    [
      'src/main/contract/lint-probe.ts',
      "import { PROVIDER_CHOICES } from '../engine/onnx/providers.js';\nimport type { Trainer } from '../engine/sd4match/training/trainer.js';\nexport type T = Trainer;\nexport const x = PROVIDER_CHOICES;\n",
    ],
    ['src/main/services/runs/lint-probe.ts', "import { x } from '../../store/db.js';\nimport { y } from '../../contract/runs.js';\nexport const z = [x, y];\n"],
    ['src/main/electron/window.ts', "import { app, BrowserWindow } from 'electron';\nexport const x = [app, BrowserWindow];\n"],
    ['src/main/electron/ipc.ts', "import { ipcMain } from 'electron';\nexport const x = ipcMain;\n"],
    [
      'src/preload/index.ts',
      "import { contextBridge, ipcRenderer } from 'electron';\nimport type { X } from '../main/contract/index.js';\nexport type Y = X;\nexport const z = [contextBridge, ipcRenderer];\n",
    ],
  ];

  it.each(RIGHT)('%s may import what its layer allows (%#)', async (file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});

describe('ESLint: ordinary bugs', () => {
  it('reports an unused variable and a dead store in a test file and a Svelte component', async () => {
    expect(await lint('test/unit/lint-probe.test.ts', 'export function f(a: number): number {\n  const unused = a * 2;\n  return a;\n}\n')).toEqual([
      expect.stringMatching(/^@typescript-eslint\/no-unused-vars: 'unused' is assigned a value but never used/),
    ]);
    expect(await lint('src/renderer/src/lib/ui/LintProbe.svelte', '<script lang="ts">\n  let n = $state(0);\n  let m = 1;\n  m = 2;\n</script>\n\n<p>{n}</p>\n')).toEqual([
      expect.stringMatching(/^@typescript-eslint\/no-unused-vars: 'm' is assigned a value but never used/),
    ]);
  });

  it('`eslint` on the command line (as `npm run lint` runs it) exits non-zero and names the file and the rule', () => {
    const bin = path.join(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'eslint.cmd' : 'eslint');
    const file = 'src/main/engine/onnx/lint-probe.ts';
    const run = spawnSync(bin, ['--stdin', '--stdin-filename', file], {
      cwd: REPO_ROOT,
      input: "import { Store } from '../../store/db.js';\nexport const x = Store;\n",
      encoding: 'utf8',
      shell: process.platform === 'win32',
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toContain(path.join(REPO_ROOT, file));
    expect(run.stdout).toContain(LAYER_RULE);
  }, 60_000);
});

describe('Prettier', () => {
  const file = path.join(REPO_ROOT, 'src/main/engine/lint-probe.ts');
  const messy = 'export  function f( a:number ,b : number ){\nreturn a+b }\nconst s = "double"\n';

  it("uses the repository's settings", async () => {
    const options = await prettier.resolveConfig(file);
    expect(options).toMatchObject({ singleQuote: true, semi: true, trailingComma: 'all', printWidth: 200 });
  });

  it('finds a badly formatted file, and passes the same code once formatted', async () => {
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    expect(await prettier.check(messy, options)).toBe(false);
    const formatted = await prettier.format(messy, options);
    expect(formatted).toBe("export function f(a: number, b: number) {\n  return a + b;\n}\nconst s = 'double';\n");
    expect(await prettier.check(formatted, options)).toBe(true);
  });

  it('formats Svelte components with the Svelte plugin', async () => {
    const component = path.join(REPO_ROOT, 'src/renderer/src/lib/ui/LintProbe.svelte');
    const options = { ...(await prettier.resolveConfig(component)), filepath: component };
    const messyComponent = '<script lang="ts">\nlet n = $state( 0 )\n</script>\n<p>{ n }</p>\n';
    expect(await prettier.check(messyComponent, options)).toBe(false);
    expect(await prettier.format(messyComponent, options)).toBe('<script lang="ts">\n  let n = $state(0);\n</script>\n\n<p>{n}</p>\n');
  });
});

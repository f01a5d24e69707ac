/**
 * Layer boundaries, enforced over the source tree:
 * - only src/main/electron/, src/main/index.ts and src/preload/ import 'electron';
 * - `ipcMain` appears only in the IPC adapter, `ipcRenderer` only in the preload;
 * - the preload and the renderer reach src/main only with `import type`;
 * - the renderer loads no Node built-ins; Node-side code never depends on the Electron adapter.
 */
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseFile, analyseSource } from '../helpers/imports.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SRC = path.join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|mts|cts|js|mjs|cjs|svelte)$/.test(entry.name)) out.push(full);
  }
  return out;
}

const rel = (file: string) => path.relative(REPO_ROOT, file).split(path.sep).join('/');
const files = sourceFiles(SRC).map((file) => ({ file, rel: rel(file), facts: analyseFile(file) }));

const ELECTRON_ALLOWED = (r: string) => r.startsWith('src/main/electron/') || r === 'src/main/index.ts' || r.startsWith('src/preload/');
const isElectron = (spec: string) => spec === 'electron' || spec.startsWith('electron/');
const NODE_BUILTINS = new Set(builtinModules);
const isNodeBuiltin = (spec: string) => spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0] ?? spec);

/** Where a relative specifier points, as a repository path (extension-less, `.js` -> source). */
function target(fromRel: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return rel(path.resolve(REPO_ROOT, path.dirname(fromRel), spec));
}

describe('layering', () => {
  it('finds the source tree', () => {
    expect(files.map((f) => f.rel)).toEqual(expect.arrayContaining(['src/main/index.ts', 'src/preload/index.ts', 'src/renderer/src/lib/api.ts']));
  });

  it("only the Electron adapter, the Electron entry and the preload import 'electron'", () => {
    const offenders = files.flatMap((f) =>
      ELECTRON_ALLOWED(f.rel) ? [] : f.facts.refs.filter((r) => isElectron(r.specifier)).map((r) => `${f.rel}:${r.line}`),
    );
    expect(offenders).toEqual([]);
  });

  it('ipcMain is used only in src/main/electron/ipc.ts and ipcRenderer only in src/preload/index.ts', () => {
    const ipcMainUsers = files.filter((f) => f.facts.identifiers.has('ipcMain')).map((f) => f.rel);
    const ipcRendererUsers = files.filter((f) => f.facts.identifiers.has('ipcRenderer')).map((f) => f.rel);
    expect(ipcMainUsers).toEqual(['src/main/electron/ipc.ts']);
    expect(ipcRendererUsers).toEqual(['src/preload/index.ts']);
  });

  it('the preload and the renderer import from src/main with `import type` only, and only from src/main/api and src/main/shared', () => {
    const offenders: string[] = [];
    for (const f of files.filter((x) => x.rel.startsWith('src/preload/') || x.rel.startsWith('src/renderer/'))) {
      for (const r of f.facts.refs) {
        const t = target(f.rel, r.specifier);
        if (t === null || !t.startsWith('src/main/')) continue;
        if (!r.typeOnly) offenders.push(`${f.rel}:${r.line} imports ${r.specifier} at run time`);
        if (!t.startsWith('src/main/api/') && !t.startsWith('src/main/shared/')) offenders.push(`${f.rel}:${r.line} reaches ${t} (outside src/main/api and src/main/shared)`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the renderer loads no Node built-ins', () => {
    const offenders = files
      .filter((f) => f.rel.startsWith('src/renderer/'))
      .flatMap((f) => f.facts.refs.filter((r) => !r.typeOnly && isNodeBuiltin(r.specifier)).map((r) => `${f.rel}:${r.line} ${r.specifier}`));
    expect(offenders).toEqual([]);
  });

  it('Node-side code (engine, api, cli, server, transport) never depends on the Electron adapter or entry', () => {
    const offenders: string[] = [];
    for (const f of files.filter((x) => x.rel.startsWith('src/main/') && !ELECTRON_ALLOWED(x.rel))) {
      for (const r of f.facts.refs) {
        const t = target(f.rel, r.specifier);
        if (t !== null && (t.startsWith('src/main/electron/') || /^src\/main\/index(\.[jt]s)?$/.test(t))) {
          offenders.push(`${f.rel}:${r.line} -> ${r.specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('layering checker', () => {
  it('tells type-only imports from run-time ones', () => {
    const { refs } = analyseSource(
      'x.ts',
      [
        "import type { A } from './a.js';",
        "import { type B } from './b.js';",
        "import './c.js';",
        "export type { D } from './d.js';",
        "export * from './e.js';",
        "const f = await import('./f.js');",
        "type G = import('./g.js').G;",
        "const h = require('./h.js');",
      ].join('\n'),
    );
    expect(refs.map((r) => [r.specifier, r.typeOnly])).toEqual([
      ['./a.js', true],
      ['./b.js', false],
      ['./c.js', false],
      ['./d.js', true],
      ['./e.js', false],
      ['./f.js', false],
      ['./g.js', true],
      ['./h.js', false],
    ]);
  });

  it('reads the script blocks of Svelte components and ignores comments', () => {
    const facts = analyseSource(
      'X.svelte',
      '<script lang="ts">\n  // ipcMain in a comment\n  import { ipcRenderer } from "electron";\n</script>\n<p>ipcMain</p>',
    );
    expect(facts.refs.map((r) => r.specifier)).toEqual(['electron']);
    expect(facts.identifiers.has('ipcRenderer')).toBe(true);
    expect(facts.identifiers.has('ipcMain')).toBe(false);
  });
});

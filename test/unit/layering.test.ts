/**
 * Layer boundaries, enforced over the source tree:
 * - only src/main/electron/, src/main/index.ts and src/preload/ import 'electron';
 * - `ipcMain` appears only in the IPC adapter, `ipcRenderer` only in the preload;
 * - the preload reaches src/main only with `import type`, and only the contract and shared; the renderer
 *   imports src/main only from src/main/contract/** and src/main/shared/** (schemas, defaults, error
 *   codes; types too), and
 *   everything those load in turn stays pure: zod, the contract, shared, and the engine modules of
 *   pure constants listed below; never a Node built-in or a native module;
 * - the renderer loads no Node built-ins; Node-side code never depends on the Electron adapter.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseFile, analyseSource, type SourceFacts } from '../helpers/imports.js';
import { PURE_ENGINE_MODULES, RENDERER_SAFE } from '../helpers/layers.js';
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

/** Packages the renderer's share of src/main may load: browser-safe, no Node APIs. */
const PURE_PACKAGES = ['zod'];
const NATIVE_MODULES = ['onnxruntime-node', 'better-sqlite3', 'sharp'];
const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));

/** The source file a relative import means (`./x.js` -> x.ts, a folder -> its index), or null. */
function resolveSource(fromRel: string, spec: string): string | null {
  const base = path.resolve(REPO_ROOT, path.dirname(fromRel), spec);
  const stem = base.replace(/\.(js|mjs|cjs|ts)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.mts`, `${stem}.svelte.ts`, path.join(base, 'index.ts')];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return found ? rel(found) : null;
}

/**
 * Every module loaded at run time, transitively, from `roots` (repository paths): what a bundler
 * would pull in. Type-only references are erased and not followed.
 */
function runtimeClosure(roots: string[]): { files: Map<string, string>; packages: Map<string, string> } {
  const files = new Map<string, string>(); // file -> who first loaded it
  const packages = new Map<string, string>(); // bare specifier -> who loaded it
  const queue: [string, string][] = roots.map((r) => [r, '(renderer)']);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [file, via] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    files.set(file, via);
    for (const r of analyseFile(path.join(REPO_ROOT, file)).refs) {
      if (r.typeOnly) continue;
      if (!r.specifier.startsWith('.')) {
        if (!packages.has(r.specifier)) packages.set(r.specifier, `${file}:${r.line}`);
        continue;
      }
      const next = resolveSource(file, r.specifier);
      if (next === null) files.set(`${file}:${r.line} -> ${r.specifier} (unresolved)`, file);
      else queue.push([next, `${file}:${r.line}`]);
    }
  }
  return { files, packages };
}

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
    const offenders = files.flatMap((f) => (ELECTRON_ALLOWED(f.rel) ? [] : f.facts.refs.filter((r) => isElectron(r.specifier)).map((r) => `${f.rel}:${r.line}`)));
    expect(offenders).toEqual([]);
  });

  it('ipcMain is used only in src/main/electron/ipc.ts and ipcRenderer only in src/preload/index.ts', () => {
    const ipcMainUsers = files.filter((f) => f.facts.identifiers.has('ipcMain')).map((f) => f.rel);
    const ipcRendererUsers = files.filter((f) => f.facts.identifiers.has('ipcRenderer')).map((f) => f.rel);
    expect(ipcMainUsers).toEqual(['src/main/electron/ipc.ts']);
    expect(ipcRendererUsers).toEqual(['src/preload/index.ts']);
  });

  it('the preload imports from src/main with `import type` only, and only from src/main/contract and src/main/shared', () => {
    const offenders: string[] = [];
    for (const f of files.filter((x) => x.rel.startsWith('src/preload/'))) {
      for (const r of f.facts.refs) {
        const t = target(f.rel, r.specifier);
        if (t === null || !t.startsWith('src/main/')) continue;
        if (!r.typeOnly) offenders.push(`${f.rel}:${r.line} imports ${r.specifier} at run time`);
        if (!t.startsWith('src/main/contract/') && !t.startsWith('src/main/shared/')) offenders.push(`${f.rel}:${r.line} reaches ${t} (outside src/main/contract and src/main/shared)`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the renderer imports src/main only from src/main/contract and src/main/shared (types included)', () => {
    const offenders: string[] = [];
    for (const f of files.filter((x) => x.rel.startsWith('src/renderer/'))) {
      for (const r of f.facts.refs) {
        const t = target(f.rel, r.specifier);
        if (t === null || !t.startsWith('src/main/')) continue;
        if (!t.startsWith('src/main/contract/') && !t.startsWith('src/main/shared/'))
          offenders.push(`${f.rel}:${r.line} reaches ${t} (only src/main/contract/** and src/main/shared/** may be imported)`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('what the renderer loads from src/main reaches no Node built-in, native module or Node-side file, transitively', () => {
    const roots = new Set<string>();
    for (const f of files.filter((x) => x.rel.startsWith('src/renderer/'))) {
      for (const r of f.facts.refs) {
        const t = target(f.rel, r.specifier);
        if (r.typeOnly || t === null || !t.startsWith('src/main/')) continue;
        const file = resolveSource(f.rel, r.specifier);
        if (file) roots.add(file);
      }
    }
    // the launch form validates with the contract's schema: the closure is not empty
    expect([...roots]).toContain('src/main/contract/runs.ts');
    const { files: closure, packages } = runtimeClosure([...roots]);
    const offenders: string[] = [];
    for (const [file, via] of closure) if (!RENDERER_SAFE(file)) offenders.push(`${file} (loaded by ${via})`);
    for (const [spec, via] of packages) {
      if (isNodeBuiltin(spec)) offenders.push(`Node built-in ${spec} (loaded by ${via})`);
      else if (NATIVE_MODULES.includes(packageOf(spec))) offenders.push(`native module ${spec} (loaded by ${via})`);
      else if (isElectron(spec)) offenders.push(`${spec} (loaded by ${via})`);
      else if (!PURE_PACKAGES.includes(packageOf(spec))) offenders.push(`package ${spec}, not on the list of browser-safe packages (loaded by ${via})`);
    }
    expect(offenders).toEqual([]);
    expect(closure.has('src/main/engine/sd4match/training/train-config.ts')).toBe(true);
  });

  it('the closure walk follows run-time imports only and catches what a pure module must not load', () => {
    // train-config.ts is listed as pure: it must import nothing at run time
    const refs = analyseFile(path.join(REPO_ROOT, PURE_ENGINE_MODULES[0]!)).refs.filter((r) => !r.typeOnly);
    expect(refs).toEqual([]);
    // a Node-side module through the same walk is caught: it loads node:path and engine files
    const { files: fromEngine, packages } = runtimeClosure(['src/main/engine/sd4match/prompts/prompts.ts']);
    expect([...fromEngine.keys()].some((f) => !RENDERER_SAFE(f))).toBe(true);
    expect([...packages.keys()].some(isNodeBuiltin)).toBe(true);
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
    const facts = analyseSource('X.svelte', '<script lang="ts">\n  // ipcMain in a comment\n  import { ipcRenderer } from "electron";\n</script>\n<p>ipcMain</p>');
    expect(facts.refs.map((r) => r.specifier)).toEqual(['electron']);
    expect(facts.identifiers.has('ipcRenderer')).toBe(true);
    expect(facts.identifiers.has('ipcMain')).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------
// The application's layers, one way:
//   shared <- engine <- store <- services <- api (handlers) <- transport <- entries
// and beside them the contract (DTOs, schemas, defaults, events), the vocabulary every layer above
// the engine shares: it loads only shared and the engine's pure constants, and reaches the engine's
// types; the store speaks it in types only, services and handlers at run time.
// ------------------------------------------------------------------------------------------------

type Layer = 'shared' | 'engine' | 'store' | 'services' | 'contract' | 'api' | 'transport' | 'entry';

/** The layer of a file under src/main (null outside it: preload and renderer have their own rules). */
function layerOf(r: string): Layer | null {
  if (!r.startsWith('src/main/')) return null;
  const rest = r.slice('src/main/'.length);
  if (rest.startsWith('shared/')) return 'shared';
  if (rest.startsWith('engine/')) return 'engine';
  if (rest.startsWith('store/')) return 'store';
  if (rest.startsWith('services/')) return 'services';
  if (rest.startsWith('contract/')) return 'contract';
  if (rest.startsWith('api/')) return 'api';
  if (rest.startsWith('transport/')) return 'transport';
  return 'entry'; // cli.ts, cli/, server.ts, index.ts, electron/: composition roots
}

/**
 * What each layer may import at run time, and (besides) with `import type` only. The engine is pure
 * computation and file formats (no store, no contract); the store is SQLite and repositories, whose
 * rows are the contract's DTOs where they leave it (types only); the contract loads only shared and
 * the engine's pure constants (`PURE_ENGINE_MODULES`, checked below); services hold every use case
 * and speak the contract; handlers only map contract arguments to a use case; transports only reach
 * the API.
 */
const ALLOWED: Record<Layer, { run: Layer[]; types: Layer[] }> = {
  shared: { run: ['shared'], types: [] },
  engine: { run: ['engine', 'shared'], types: [] },
  store: { run: ['store', 'engine', 'shared'], types: ['contract'] },
  services: { run: ['services', 'store', 'engine', 'shared', 'contract'], types: [] },
  contract: { run: ['contract', 'engine', 'shared'], types: [] },
  api: { run: ['api', 'contract', 'services', 'shared'], types: [] },
  transport: { run: ['transport', 'api', 'contract', 'shared'], types: [] },
  entry: { run: ['entry', 'transport', 'api', 'contract', 'services', 'store', 'engine', 'shared'], types: [] },
};

/** Imports of src/main files that go against the layers, as `file:line -> target`. */
function layerViolations(list: { rel: string; facts: SourceFacts }[]): string[] {
  const out: string[] = [];
  for (const f of list) {
    const from = layerOf(f.rel);
    if (from === null) continue;
    for (const r of f.facts.refs) {
      const t = target(f.rel, r.specifier);
      const to = t === null ? null : layerOf(t);
      if (to === null) continue;
      const rule = ALLOWED[from];
      // the contract loads the engine's pure constants only (their types it may reach)
      if (from === 'contract' && to === 'engine' && !r.typeOnly && !PURE_ENGINE_MODULES.includes(`${t}.ts`.replace(/\.js\.ts$/, '.ts'))) {
        out.push(`${f.rel}:${r.line} (contract) -> ${t} (engine, not one of its pure constants)`);
        continue;
      }
      if (rule.run.includes(to) || (r.typeOnly && rule.types.includes(to))) continue;
      out.push(`${f.rel}:${r.line} (${from}) -> ${t} (${to}${r.typeOnly ? ', type-only' : ''})`);
    }
  }
  return out;
}

/** SQL in string literals: statements and transaction control. */
const SQL = /^\s*(SELECT\s[\s\S]*\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX)\s|BEGIN(\s+IMMEDIATE)?\s*$|COMMIT\s*$|ROLLBACK\s*$|PRAGMA\s)/;

function sqlOutsideStore(list: { rel: string; facts: SourceFacts }[]): string[] {
  return list
    .filter((f) => f.rel.startsWith('src/main/') && !f.rel.startsWith('src/main/store/'))
    .flatMap((f) => f.facts.strings.filter((s) => SQL.test(s.text)).map((s) => `${f.rel}:${s.line} ${s.text.trim().split('\n')[0]}`));
}

describe('layers', () => {
  it('every import in src/main goes down the layers: shared <- engine <- store <- services <- api <- transport <- entries, the contract beside them', () => {
    expect(layerViolations(files)).toEqual([]);
  });

  it('no SQL outside src/main/store', () => {
    expect(sqlOutsideStore(files)).toEqual([]);
  });

  /** One deliberately wrong import per arrow, each of which the check must name. */
  const WRONG: [string, string, string][] = [
    ['src/main/shared/errors.ts', "import { x } from '../engine/onnx/ir.js';", 'shared -> engine'],
    ['src/main/engine/onnx/ir.ts', "import { Store } from '../../store/db.js';", 'engine -> store'],
    ['src/main/engine/onnx/ir.ts', "import type { JobInfo } from '../../contract/jobs.js';", 'engine -> contract types'],
    ['src/main/engine/sd4match/training/trainer.ts', "import { runs } from '../../../services/runs.js';", 'engine -> services'],
    ['src/main/store/db.ts', "import { runsSchemas } from '../contract/runs.js';", 'store -> contract at run time'],
    ['src/main/store/db.ts', "import type { Handlers } from '../api/handlers.js';", 'store -> handler types'],
    ['src/main/store/db.ts', "import { openServices } from '../services/context.js';", 'store -> services'],
    ['src/main/services/runs.ts', "import { runHandlers } from '../api/handlers/runs.js';", 'services -> handlers'],
    ['src/main/services/runs.ts', "import { wsServer } from '../transport/ws-server.js';", 'services -> transport'],
    ['src/main/api/handlers/pairs.ts', "import { PairsRepo } from '../../store/repositories/pairs.js';", 'handler -> store'],
    ['src/main/api/handlers/pairs.ts', "import { planPairs } from '../../engine/datasets/pair-geometry.js';", 'handler -> engine'],
    ['src/main/contract/runs.ts', "import { startTraining } from '../services/runs.js';", 'contract -> services'],
    ['src/main/contract/runs.ts', "import type { RunRecord } from '../store/repositories/runs.js';", 'contract -> store types'],
    ['src/main/contract/runs.ts', "import { Trainer } from '../engine/sd4match/trainer.js';", 'contract -> engine code'],
    ['src/main/transport/ws-server.ts', "import { listRuns } from '../services/runs.js';", 'transport -> services'],
    ['src/main/transport/ws-server.ts', "import { ImageAccess } from '../services/images/access.js';", 'transport -> services'],
  ];
  it.each(WRONG)('names a wrong import in %s (%s: %s)', (file, code, _arrow) => {
    const facts = analyseSource(file, code);
    expect(layerViolations([{ rel: file, facts }])).toHaveLength(1);
  });

  it('finds SQL in a service and not in an ordinary message', () => {
    const svc = analyseSource('x.ts', "db.prepare('SELECT id FROM pairs WHERE id = ?'); db.exec('BEGIN IMMEDIATE'); const m = 'select a model from the list';");
    expect(sqlOutsideStore([{ rel: 'src/main/services/x.ts', facts: svc }])).toHaveLength(2);
    expect(sqlOutsideStore([{ rel: 'src/main/store/x.ts', facts: svc }])).toEqual([]);
  });
});

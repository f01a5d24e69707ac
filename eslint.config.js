/**
 * ESLint (flat config): typescript-eslint and eslint-plugin-svelte recommended rules, without type
 * information (a type-aware run costs minutes on a small machine; `tsc` and `svelte-check` already
 * check the types), and the layers of src/ (STYLE.md "Layout") as import restrictions.
 *
 * The layer rules here say what a linter can say from an import's text: each relative specifier is
 * matched against the folder it reaches from the file's depth, so `../../store/db.js` in
 * src/main/engine/onnx/ is the store. test/unit/layering.test.ts stays the full check (it resolves
 * every import, follows the renderer's run-time closure and sees dynamic `import()`), with the same
 * table of arrows; this config gives the same verdict in the editor, at the line.
 *
 * `npm run lint` runs it; `npm test` runs it as one test.
 *
 * Type-aware rules (no-floating-promises, no-misused-promises over the .ts files, projectService)
 * were tried: no finding in the tree, and 4x the time (64 s against 14 s on two busy cores).
 */
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SOURCE = '{ts,mts,cts,js,mjs,cjs,svelte}';
const RULE = '@typescript-eslint/no-restricted-imports';

/** Escapes a string for use inside a regular expression. */
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The layers of src/main, and the folder or files each one is (see test/unit/layering.test.ts). */
const LAYER_DIRS = {
  shared: 'shared',
  engine: 'engine',
  store: 'store',
  services: 'services',
  contract: 'contract',
  api: 'api',
  transport: 'transport',
};
/** The composition roots: Electron's entry and adapter, the CLI, the browser-mode server. */
const ENTRY = '(?:electron|cli|index|server)(?:\\.[cm]?[jt]s)?(?:/|$)';

/**
 * What each layer may not import (run time), and what it may reach only with `import type`,
 * from test/unit/layering.test.ts's `ALLOWED` table.
 */
const FORBIDDEN = {
  shared: { never: ['engine', 'store', 'services', 'contract', 'api', 'transport'], typesOnly: [] },
  engine: { never: ['store', 'services', 'contract', 'api', 'transport'], typesOnly: [] },
  store: { never: ['services', 'api', 'transport'], typesOnly: ['contract'] },
  services: { never: ['api', 'transport'], typesOnly: [] },
  // the contract loads the engine's pure constants only; their types (and others) it may reach
  contract: { never: ['store', 'services', 'api', 'transport'], typesOnly: [] },
  api: { never: ['store', 'engine', 'transport'], typesOnly: [] },
  transport: { never: ['services', 'store', 'engine'], typesOnly: [] },
};
/** Engine modules of pure constants that the contract (and so the renderer) may load at run time. */
const PURE_ENGINE_MODULES = ['sd4match/training/train-config', 'onnx/providers', 'datasets/domain', 'models/facts'];

/** Packages whose code needs Node or native binaries: never in the renderer. */
const NODE_ONLY_PACKAGES = ['electron', 'onnxruntime-node', 'better-sqlite3', 'sharp', 'ws', 'commander'];

const electronOnly = {
  name: 'electron',
  message: "Only src/main/electron/, src/main/index.ts and src/preload/ import 'electron' (STYLE.md Layout): reach Electron through the adapter in src/main/electron/.",
};

/**
 * One flat-config entry per folder depth, so that a relative import can be matched exactly:
 * from src/main/<layer>/a/b.ts, `../../x` is src/main/x.
 * @param {string} dir folder under src/main
 * @param {(up: string) => { paths?: object[], patterns?: object[] }} options the rule's options, given the `../` prefix that reaches src/main
 * @param {string[]} [ignores]
 */
function byDepth(dir, options, ignores = []) {
  const out = [];
  for (let depth = 1; depth <= 8; depth++) {
    const up = `^(?:\\./)?${'\\.\\./'.repeat(depth)}`;
    out.push({
      files: [`src/main/${dir}/${'*/'.repeat(depth - 1)}*.${SOURCE}`],
      ignores,
      rules: { [RULE]: ['error', options(up)] },
    });
  }
  return out;
}

/** Restrictions for one layer of src/main. */
function layerRestrictions(layer) {
  const { never, typesOnly } = FORBIDDEN[layer];
  return byDepth(LAYER_DIRS[layer], (up) => {
    const patterns = [];
    if (never.length > 0) {
      patterns.push({
        regex: `${up}(?:${never.join('|')})(?:/|$)`,
        message: `src/main/${layer} may not import ${never.join(', ')} (the layers go one way: shared <- engine <- store <- services <- api <- transport <- entries, the contract beside them; see test/unit/layering.test.ts).`,
      });
    }
    for (const t of typesOnly) {
      patterns.push({ regex: `${up}${t}(?:/|$)`, allowTypeImports: true, message: `src/main/${layer} may reach ${t} with \`import type\` only.` });
    }
    patterns.push({ regex: `${up}${ENTRY}`, message: `src/main/${layer} may not depend on an entry point (Electron adapter, CLI, server, index.ts): they depend on it.` });
    if (layer === 'contract') {
      patterns.push({
        regex: `${up}engine/(?!(?:${PURE_ENGINE_MODULES.map(esc).join('|')})(?:\\.[jt]s)?$)`,
        allowTypeImports: true,
        message: `The contract loads only the engine's pure constants (${PURE_ENGINE_MODULES.join(', ')}) at run time; other engine modules with \`import type\` only.`,
      });
    }
    return { paths: [electronOnly], patterns };
  });
}

/** Node built-ins by their bare names (`node:` specifiers are caught by a pattern). */
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'));

/** Restrictions for the renderer: browser code that reaches src/main only for the contract and shared. */
const rendererRestrictions = {
  paths: [
    ...[...new Set(nodeBuiltins)].map((name) => ({ name, message: 'The renderer runs in the browser: no Node built-ins (ask the engine through lib/api.ts).' })),
    ...NODE_ONLY_PACKAGES.map((name) => ({ name, message: `The renderer runs in the browser: ${name} belongs to the main process.` })),
  ],
  patterns: [
    { regex: '^node:', message: 'The renderer runs in the browser: no Node built-ins.' },
    {
      regex: '^(?:\\.\\./)+main/(?!(?:contract|shared)/)',
      message: 'The renderer imports src/main only from src/main/contract/** and src/main/shared/** (types included).',
    },
  ],
};

/** The preload: `import type` from the contract and shared only; 'electron' itself it may import. */
const preloadRestrictions = {
  paths: NODE_ONLY_PACKAGES.filter((p) => p !== 'electron').map((name) => ({ name, message: `The preload exposes the API only: ${name} belongs to the main process.` })),
  patterns: [
    { regex: '^\\.\\./main/(?:contract|shared)/', allowTypeImports: true, message: 'The preload reaches src/main/contract and src/main/shared with `import type` only.' },
    { regex: '^\\.\\./main/(?!(?:contract|shared)/)', message: 'The preload reaches src/main only for the contract and shared (types only).' },
  ],
};

/** ipcMain belongs to the IPC adapter, ipcRenderer to the preload. */
const ipcOnlyInAdapters = (except) => ({
  name: 'electron',
  importNames: ['ipcMain', 'ipcRenderer'].filter((n) => n !== except),
  message: '`ipcMain` is used only in src/main/electron/ipc.ts and `ipcRenderer` only in src/preload/index.ts.',
});

export default defineConfig(
  globalIgnores(['out/**', 'dist/**', 'node_modules/**', 'test-results/**', 'models/**', 'test/fixtures/**', 'bench/results/**', 'scratch/**', 'tmp/**', '.cache/**']),
  js.configs.recommended,
  tseslint.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `catch {}` and `() => {}` are how this code says "ignore this failure" or "no-op", each with a comment beside it.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
    rules: {
      // Fires on Maps and Sets that are not state: built fresh inside a $derived, a private memo of
      // measurements, a local in a plain function. Reactive collections here are SvelteMap/SvelteSet
      // by choice, where a component reads them.
      'svelte/prefer-svelte-reactivity': 'off',
      // `{' '}` and `{' or '}` keep spaces that Svelte trims next to a block or tag boundary
      // (prettier-plugin-svelte writes the same); every hit in this code is one of those.
      'svelte/no-useless-mustaches': 'off',
    },
  },
  {
    files: [`src/renderer/**/*.${SOURCE}`],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
  },

  // ── layers ──────────────────────────────────────────────────────────────────
  // 'electron' everywhere in src/ but the adapter, the Electron entry and the preload
  { files: [`src/**/*.${SOURCE}`], rules: { [RULE]: ['error', { paths: [electronOnly] }] } },
  { files: [`src/main/electron/**/*.${SOURCE}`], ignores: ['src/main/electron/ipc.ts'], rules: { [RULE]: ['error', { paths: [ipcOnlyInAdapters(null)] }] } },
  { files: ['src/main/electron/ipc.ts'], rules: { [RULE]: ['error', { paths: [ipcOnlyInAdapters('ipcMain')] }] } },
  { files: ['src/main/index.ts'], rules: { [RULE]: ['error', { paths: [ipcOnlyInAdapters(null)] }] } },
  { files: [`src/preload/**/*.${SOURCE}`], rules: { [RULE]: ['error', { ...preloadRestrictions, paths: [...preloadRestrictions.paths, ipcOnlyInAdapters('ipcRenderer')] }] } },
  { files: [`src/renderer/**/*.${SOURCE}`], rules: { [RULE]: ['error', rendererRestrictions] } },
  ...Object.keys(LAYER_DIRS).flatMap(layerRestrictions),
);

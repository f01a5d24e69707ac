/**
 * The built renderer (out/renderer) as a browser loads it: the part of src/main it bundles (the
 * contract's schemas and defaults) must have brought no Node code along. Vite does not fail on a
 * Node built-in in a browser build: it warns and swaps in an empty CommonJS stub
 * (`module.exports = {}`), and the page breaks only when the code runs. So the bundle itself is
 * read: the modules it names (rolldown keeps a `// <path>` line per module), the stubs, and any
 * import left external.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuilt } from '../helpers/build-output.js';
import { RENDERER_SAFE } from '../helpers/layers.js';
// where src/main code in the bundle may come from: what test/unit/layering.test.ts allows

function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return scripts(full);
    return /\.(m?js)$/.test(e.name) ? [full] : [];
  });
}

/** The shape of vite's stand-in for a Node built-in in a browser build. */
const BROWSER_STUB = /__commonJSMin\(\(\(exports, module\) => \{\s*module\.exports = \{\};\s*\}\)\)/;

describe('built renderer bundle', () => {
  let bundle: { file: string; code: string }[];

  beforeAll(() => {
    const root = path.dirname(requireBuilt('out/renderer/index.html'));
    bundle = scripts(root).map((file) => ({ file: path.relative(root, file), code: readFileSync(file, 'utf8') }));
  });

  it('has scripts', () => {
    expect(bundle.length).toBeGreaterThan(0);
  });

  it('loads no Node built-in, native module or CommonJS require', () => {
    const offenders = bundle.flatMap(({ file, code }) => {
      const found: string[] = [];
      for (const m of code.matchAll(/(?:from\s*|import\s*\(\s*|import\s*)["'](node:[^"']+|onnxruntime-node|better-sqlite3|sharp|electron)["']/g)) found.push(`${file}: ${m[1]}`);
      if (code.includes('__vite-browser-external') || BROWSER_STUB.test(code)) found.push(`${file}: a Node built-in replaced by vite's empty browser stub`);
      if (/\brequire\(\s*["']/.test(code)) found.push(`${file}: require()`);
      return found;
    });
    expect(offenders).toEqual([]);
  });

  it('bundles src/main code only from the contract, shared and the pure engine constants', () => {
    const modules = bundle.flatMap(({ code }) => [...code.matchAll(/^\/\/ (src\/main\/\S+)$/gm)].map((m) => m[1]!));
    expect(modules).toContain('src/main/contract/runs.ts');
    expect(modules.filter((m) => !RENDERER_SAFE(m))).toEqual([]);
  });

  it("carries the engine's launch schema and defaults (the form validates with them)", () => {
    const all = bundle.map((b) => b.code).join('\n');
    // the contract's rule message for image sizes, and a default only TRAIN_DEFAULTS holds
    expect(all).toContain('must be a multiple of 64');
    expect(all).toMatch(/valPairs:\s*200/);
  });
});

/**
 * The import graph of src/ has no cycle, type-only imports included: every module can be read
 * (and moved) after what it imports. Tarjan's strongly connected components over the relative
 * imports of every .ts and .svelte file; a cycle is named with its files.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseFile, analyseSource } from '../helpers/imports.js';
import { REPO_ROOT } from '../helpers/paths.js';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|mts|svelte)$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** The source file a relative import means (`./x.js` -> x.ts, a folder -> its index), or null. */
function resolve(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  const stem = base.replace(/\.(js|mjs|cjs|ts)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.mts`, `${stem}.svelte.ts`, path.join(base, 'index.ts')]) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

/** The cycles of a graph (its strongly connected components of more than one node, or a self-loop). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('the import graph of src/', () => {
  it('has no cycle, type-only imports included', () => {
    const graph = new Map<string, string[]>();
    for (const file of sourceFiles(path.join(REPO_ROOT, 'src'))) {
      const rel = path.relative(REPO_ROOT, file);
      const deps = analyseFile(file)
        .refs.filter((r) => r.specifier.startsWith('.'))
        .map((r) => resolve(file, r.specifier))
        .filter((x): x is string => x !== null)
        .map((x) => path.relative(REPO_ROOT, x));
      graph.set(rel, deps);
    }
    expect(graph.size).toBeGreaterThan(300);
    expect(cycles(graph).map((c) => c.join(' <-> '))).toEqual([]);
  });

  it('names a cycle, also one made by a type-only import', () => {
    const a = analyseSource('a.ts', "import { b } from './b.js';");
    const b = analyseSource('b.ts', "import type { A } from './a.js';");
    const graph = new Map([
      ['a.ts', a.refs.map(() => 'b.ts')],
      ['b.ts', b.refs.map(() => 'a.ts')],
      ['c.ts', ['a.ts']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts']]);
  });
});

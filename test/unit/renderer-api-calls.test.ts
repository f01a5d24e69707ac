/**
 * Components render and dispatch; the state modules (src/renderer/src/lib/state) own every call to
 * the API. A `.svelte` file under src/renderer that gets the client (`getApi`) or calls a method
 * on it (`.invoke(`) fails here, naming the file and the line: move the call into the state
 * module of its domain and call that module's method. Image URLs and the transport's name come
 * from lib/links.ts, which calls nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';

const RENDERER = path.join(REPO_ROOT, 'src', 'renderer');

function svelteFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...svelteFiles(full));
    else if (entry.name.endsWith('.svelte')) out.push(full);
  }
  return out;
}

/** What reaches the API client in a component's source, as `line N: text`. */
const CALLS: { what: string; re: RegExp }[] = [
  { what: 'gets the API client', re: /\bgetApi\b/ },
  { what: 'calls the API', re: /\.invoke\s*\(/ },
];

function apiCalls(source: string): string[] {
  const found: string[] = [];
  source.split('\n').forEach((line, i) => {
    for (const { what, re } of CALLS) if (re.test(line)) found.push(`line ${i + 1} ${what}: ${line.trim()}`);
  });
  return found;
}

describe('the renderer calls the API from its state modules only', () => {
  it('finds a call in a component (the check itself)', () => {
    const component = ['<script lang="ts">', "  import { getApi } from '../lib/api.js';", '  const api = getApi();', "  const p = api.invoke('compare:pair', { pairId: 1 });", '</script>'].join('\n');
    expect(apiCalls(component)).toEqual([
      "line 2 gets the API client: import { getApi } from '../lib/api.js';",
      'line 3 gets the API client: const api = getApi();',
      "line 4 calls the API: const p = api.invoke('compare:pair', { pairId: 1 });",
    ]);
    expect(apiCalls("<script>\n  import { compare } from '../lib/state/compare.svelte.js';\n  const p = compare.pair(1);\n</script>")).toEqual([]);
  });

  it('no .svelte file under src/renderer gets the client or calls it', () => {
    const files = svelteFiles(RENDERER);
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.flatMap((file) => apiCalls(readFileSync(file, 'utf8')).map((c) => `${path.relative(REPO_ROOT, file)}: ${c}`));
    expect(offenders, 'move these calls into the state module of their domain (src/renderer/src/lib/state)').toEqual([]);
  });
});

/**
 * Module scopes: which PyTorch module a node came from. TorchScript exports name nodes
 * `/up_blocks.1/upsamplers.0/conv/Conv`; the dynamo exporter records a `namespace` metadata entry
 * `: __main__.UNet/up_blocks.1: pkg.CrossAttnUpBlock2D/up_blocks.1.upsamplers.0: pkg.Upsample2D/conv2d_44: aten.conv2d`.
 * Both become a module path (`up_blocks.1.upsamplers.0`) and its chain of enclosing modules.
 */
import { AppError } from '../../shared/errors.js';
import type { Graph, Node } from './ir.js';
import { topoSort } from './graph-utils.js';

/** The chain of module paths enclosing a node, outermost first (root excluded). */
export function moduleChain(node: Node): string[] {
  const ns = node.metadata.namespace;
  if (ns !== undefined) {
    const segments = ns.split('/');
    // the last segment names the operation itself (`conv2d_44: aten.conv2d.default`)
    const modules = segments.slice(0, -1).map((s) => {
      const colon = s.indexOf(': ');
      return (colon >= 0 ? s.slice(0, colon) : s).trim();
    });
    return modules.filter((m) => m.length > 0);
  }
  if (!node.name.startsWith('/')) return [];
  const parts = node.name.slice(1).split('/');
  parts.pop(); // the op's own name
  const chain: string[] = [];
  let acc = '';
  for (const p of parts) {
    if (!p) continue;
    acc = acc ? `${acc}.${p}` : p;
    chain.push(acc);
  }
  return chain;
}

/**
 * Module chains for every node. Exporters' graph rewriters add nodes without scope information
 * (a dynamo export's fused Split, say); such a node belongs to the innermost scope shared by the
 * nodes that feed it.
 */
export function scopeIndex(g: Graph): Map<Node, string[]> {
  const index = new Map<Node, string[]>();
  const usesMetadata = g.nodes.some((n) => n.metadata.namespace !== undefined);
  const producers = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producers.set(o, n);
  for (const n of topoSort(g)) {
    const own = moduleChain(n);
    const unattributed = usesMetadata ? n.metadata.namespace === undefined : !n.name.startsWith('/');
    if (!unattributed || own.length > 0) {
      index.set(n, own);
      continue;
    }
    let common: string[] | null = null;
    for (const i of n.inputs) {
      const p = producers.get(i);
      if (!p) continue;
      const chain = index.get(p) ?? [];
      if (common === null) common = [...chain];
      else {
        let k = 0;
        while (k < common.length && k < chain.length && common[k] === chain[k]) k++;
        common.length = k;
      }
    }
    index.set(n, common ?? []);
  }
  return index;
}

/** Every module path that owns at least one node, with its node count (descendants included). */
export function listScopes(g: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const chain of scopeIndex(g).values()) for (const m of chain) counts.set(m, (counts.get(m) ?? 0) + 1);
  return counts;
}

/**
 * Resolves what a user typed to one module path: the exact path, or a unique path ending in
 * `.<scope>` (so `embeddings` finds `text_model.embeddings`). Errors list the scopes nearby.
 */
export function resolveScope(g: Graph, scope: string): string {
  const scopes = listScopes(g);
  if (scopes.has(scope)) return scope;
  const suffix = [...scopes.keys()].filter((s) => s.endsWith(`.${scope}`));
  if (suffix.length === 1) return suffix[0];
  if (suffix.length > 1) {
    throw new AppError('SCOPE_NOT_FOUND', `module scope '${scope}' is ambiguous; it matches ${suffix.slice(0, 10).join(', ')}`);
  }
  const near = nearbyScopes([...scopes.keys()], scope);
  const list = near.length ? near.join(', ') : '(the model has no module scopes: nodes carry neither /scope/ names nor namespace metadata)';
  throw new AppError('SCOPE_NOT_FOUND', `module scope '${scope}' does not exist in this model; scopes nearby: ${list}`);
}

/** Scopes that share the longest prefix with the wanted one, then the closest by edit distance. */
function nearbyScopes(all: string[], wanted: string): string[] {
  const parts = wanted.split('.');
  // Walk up the requested path until some scope lives under it; list that level's children.
  for (let k = parts.length - 1; k >= 1; k--) {
    const parent = parts.slice(0, k).join('.');
    const children = all.filter((s) => s.startsWith(`${parent}.`) && !s.slice(parent.length + 1).includes('.', indexAfterNumber(s, parent)));
    if (children.length) return children.sort().slice(0, 15);
  }
  const depth = wanted.split('.').length;
  const ranked = all
    .filter((s) => Math.abs(s.split('.').length - depth) <= 1)
    .map((s) => ({ s, d: editDistance(s, wanted) }))
    .sort((a, b) => a.d - b.d || a.s.localeCompare(b.s));
  return ranked.slice(0, 12).map((r) => r.s);
}

/** Index in `s` after `parent.` and an optional numeric component (so `up_blocks.1` counts as one level). */
function indexAfterNumber(s: string, parent: string): number {
  const rest = s.slice(parent.length + 1);
  const m = /^[^.]+(\.\d+)?/.exec(rest);
  return m ? m[0].length : 0;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/**
 * The module's output: of the tensors produced inside the scope and used outside it (or returned
 * by the graph), the one produced last in topological order.
 */
export function moduleOutput(g: Graph, scope: string): { tensor: string; node: Node; candidates: string[] } {
  const order = topoSort(g);
  const index = scopeIndex(g);
  const inside = new Set(order.filter((n) => index.get(n)!.includes(scope)));
  if (inside.size === 0) throw new AppError('SCOPE_NOT_FOUND', `module scope '${scope}' has no nodes`);
  const producedInside = new Map<string, Node>();
  for (const n of inside) for (const o of n.outputs) if (o) producedInside.set(o, n);
  const used = new Set<string>();
  for (const n of order) {
    if (inside.has(n)) continue;
    for (const i of n.inputs) if (producedInside.has(i)) used.add(i);
  }
  for (const o of g.outputs) if (producedInside.has(o.name)) used.add(o.name);
  if (used.size === 0) throw new AppError('SCOPE_NOT_FOUND', `module scope '${scope}' produces nothing used outside it`);
  const position = new Map(order.map((n, i) => [n, i]));
  const candidates = [...used].sort((a, b) => position.get(producedInside.get(a)!)! - position.get(producedInside.get(b)!)!);
  const tensor = candidates[candidates.length - 1];
  return { tensor, node: producedInside.get(tensor)!, candidates };
}

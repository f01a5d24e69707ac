/** Structural helpers over the IR: producer/consumer maps, topological order, pruning, validation. */
import { AppError } from '../../shared/errors.js';
import type { Graph, Node } from './ir.js';

const freeVarCache = new WeakMap<Graph, string[]>();

/** Names a subgraph reads from its enclosing scopes (not its own inputs, initializers or outputs of its nodes). */
export function subgraphFreeVars(g: Graph): string[] {
  const hit = freeVarCache.get(g);
  if (hit) return hit;
  const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) local.add(o);
  const free = new Set<string>();
  for (const n of g.nodes) for (const i of nodeInputs(n)) if (i && !local.has(i)) free.add(i);
  for (const o of g.outputs) if (!local.has(o.name)) free.add(o.name);
  const out = [...free];
  freeVarCache.set(g, out);
  return out;
}

/**
 * Every tensor a node reads: its inputs and, for control-flow nodes (Scan, Loop, If), the tensors
 * of the enclosing graph its bodies read by name (ONNX's implicit inputs).
 */
export function nodeInputs(n: Node): string[] {
  let extra: string[] | null = null;
  for (const a of Object.values(n.attrs)) {
    if (a.type !== 'graph') continue;
    extra ??= [];
    extra.push(...subgraphFreeVars(a.value));
  }
  return extra ? [...n.inputs, ...extra] : n.inputs;
}

export function producerMap(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

export function consumerMap(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const i of nodeInputs(n)) {
      if (!i) continue;
      let list = m.get(i);
      if (!list) m.set(i, (list = []));
      if (!list.includes(n)) list.push(n);
    }
  }
  return m;
}

/** Nodes in an order where every producer precedes its consumers; throws on a cycle. */
export function topoSort(g: Graph): Node[] {
  const prod = producerMap(g);
  const state = new Map<Node, 1 | 2>();
  const out: Node[] = [];
  for (const root of g.nodes) {
    if (state.get(root) === 2) continue;
    // iterative DFS to survive graphs with tens of thousands of nodes
    const stack: [Node, number, string[]][] = [[root, 0, nodeInputs(root)]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, idx, inputs] = top;
      if (idx < inputs.length) {
        top[1]++;
        const p = inputs[idx] ? prod.get(inputs[idx]) : undefined;
        if (!p) continue;
        const s = state.get(p);
        if (s === 1) throw new AppError('ONNX_INVALID', `graph has a cycle through node '${p.name}'`);
        if (s === undefined) {
          state.set(p, 1);
          stack.push([p, 0, nodeInputs(p)]);
        }
      } else {
        stack.pop();
        state.set(node, 2);
        out.push(node);
      }
    }
  }
  return out;
}

/** Keeps only nodes the graph outputs need, and the initializers those nodes read. */
export function pruneDead(g: Graph): void {
  const prod = producerMap(g);
  const needed = new Set<string>(g.outputs.map((o) => o.name));
  const keep = new Set<Node>();
  const stack = [...needed];
  while (stack.length) {
    const t = stack.pop()!;
    const p = prod.get(t);
    if (!p || keep.has(p)) continue;
    keep.add(p);
    for (const i of nodeInputs(p)) {
      if (i && !needed.has(i)) {
        needed.add(i);
        stack.push(i);
      }
    }
  }
  g.nodes = g.nodes.filter((n) => keep.has(n));
  for (const name of [...g.initializers.keys()]) if (!needed.has(name)) g.initializers.delete(name);
  g.inputs = g.inputs.filter((i) => needed.has(i.name));
  for (const name of [...g.valueInfo.keys()]) if (!needed.has(name)) g.valueInfo.delete(name);
}

/** Names of graph inputs (non-initializer) that the outputs depend on. */
export function requiredInputs(g: Graph): Set<string> {
  const prod = producerMap(g);
  const seen = new Set<string>();
  const stack = g.outputs.map((o) => o.name);
  const inputs = new Set(g.inputs.map((i) => i.name));
  const req = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (inputs.has(t)) req.add(t);
    const p = prod.get(t);
    if (p) for (const i of nodeInputs(p)) if (i) stack.push(i);
  }
  return req;
}

/** Checks what ONNX Runtime would reject: duplicate names, unresolvable inputs, cycles. */
export function validateGraph(g: Graph): void {
  const defined = new Set<string>();
  for (const i of g.inputs) {
    if (defined.has(i.name)) throw new AppError('ONNX_INVALID', `graph input '${i.name}' is declared twice`);
    defined.add(i.name);
  }
  for (const name of g.initializers.keys()) defined.add(name);
  const nodeNames = new Set<string>();
  for (const n of g.nodes) {
    if (nodeNames.has(n.name)) throw new AppError('ONNX_INVALID', `two nodes are named '${n.name}'`);
    nodeNames.add(n.name);
    for (const o of n.outputs) {
      if (!o) continue;
      if (defined.has(o)) throw new AppError('ONNX_INVALID', `tensor '${o}' is produced twice (node '${n.name}')`);
      defined.add(o);
    }
  }
  for (const n of g.nodes) {
    for (const i of nodeInputs(n)) {
      if (i && !defined.has(i)) throw new AppError('ONNX_INVALID', `node '${n.name}' (${n.opType}) reads '${i}', which nothing defines`);
    }
  }
  for (const o of g.outputs) if (!defined.has(o.name)) throw new AppError('ONNX_INVALID', `graph output '${o.name}' is not defined`);
  topoSort(g);
}

/** Replaces every use of tensor `from` by `to` (node inputs and graph outputs). */
export function renameUses(g: Graph, from: string, to: string): void {
  for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
}

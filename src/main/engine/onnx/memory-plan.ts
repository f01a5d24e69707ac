/**
 * The peak memory of running a graph, estimated before it runs from its shapes: the execution
 * order ONNX Runtime's default executor uses (a reverse depth-first walk from the leaf nodes,
 * post-order, inputs visited in node order; Graph::ReverseDFSFrom with NodeCompare) and its
 * deallocation plan (a tensor is freed after its last consumer in that order; graph outputs live to
 * the end). Control-flow bodies (Scan) add their own peak while they run; weights are counted
 * separately (they are memory-mapped, see runtime.ts).
 */
import { DTYPE_SIZE, type DType } from './dtypes.js';
import { nodeInputs, producerMap, topoSort } from './graph-utils.js';
import { type Graph, type Node, numel } from './ir.js';

export interface TensorShape {
  dtype: DType;
  dims: number[];
}

export interface MemoryPlan {
  /** Peak bytes of intermediate tensors (graph inputs and initializers excluded). */
  peakBytes: number;
  /** Index (in `order`) of the node at which the peak occurs. */
  peakAt: number;
  order: Node[];
  /** The largest tensors live at the peak, largest first. */
  liveAtPeak: { name: string; bytes: number; producer: string }[];
  /** Bytes of initializers the graph reads. */
  weightBytes: number;
  /** Bytes of the graph inputs. */
  inputBytes: number;
}

/** ORT's default execution order: reverse DFS from the leaves (post-order), inputs sorted by node index. */
export function executionOrder(g: Graph): Node[] {
  const producers = producerMap(g);
  const index = new Map<Node, number>(g.nodes.map((n, i) => [n, i]));
  const consumed = new Set<Node>();
  const inputNodes = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    const ins = new Set<Node>();
    for (const t of nodeInputs(n)) {
      const p = t ? producers.get(t) : undefined;
      if (p && p !== n) ins.add(p);
    }
    const list = [...ins].sort((a, b) => index.get(a)! - index.get(b)!);
    inputNodes.set(n, list);
    for (const p of list) consumed.add(p);
  }
  const leaves = g.nodes.filter((n) => !consumed.has(n));
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: [Node, boolean][] = leaves.map((n) => [n, false]);
  while (stack.length) {
    const [n, leave] = stack.pop()!;
    if (leave) {
      order.push(n);
      continue;
    }
    if (visited.has(n)) continue;
    visited.add(n);
    stack.push([n, true]);
    for (const p of inputNodes.get(n)!) if (!visited.has(p)) stack.push([p, false]);
  }
  return order;
}

/**
 * Moves the nodes that compute from weights alone (no graph input upstream: a gradient's flipped
 * convolution kernel, a transposed weight) to the front of the node list, in their order. In the
 * order above, a node's inputs with higher node indices are walked first, so a weight-only input
 * placed last would be computed before everything else its consumer waits for and held from the
 * start of the run (SD 2-1's 768 px step graph: every flipped kernel at once, 1 GB); placed first,
 * it is computed right before its consumer and freed after it. Returns how many nodes moved.
 */
export function orderWeightOnlyFirst(g: Graph): number {
  const fromInputs = new Set<string>(g.inputs.map((i) => i.name));
  const dependent = new Set<Node>();
  // classified in a topological order (producers first), moved keeping the list's own order
  for (const n of topoSort(g)) {
    if (nodeInputs(n).some((t) => t && fromInputs.has(t))) {
      dependent.add(n);
      for (const o of n.outputs) if (o) fromInputs.add(o);
    }
  }
  const weightOnly = g.nodes.filter((n) => !dependent.has(n));
  g.nodes = [...weightOnly, ...g.nodes.filter((n) => dependent.has(n))];
  return weightOnly.length;
}

function bytesOf(t: TensorShape | undefined): number {
  return t ? numel(t.dims) * DTYPE_SIZE[t.dtype] : 0;
}

/** Extra bytes a node needs while it runs beyond its inputs and outputs (a Scan's body peak). */
function workspace(n: Node, shapeOf: (t: string) => TensorShape | undefined): number {
  if (n.opType !== 'Scan' && n.opType !== 'Loop') return 0;
  const body = n.attrs.body;
  if (!body || body.type !== 'graph') return 0;
  // one iteration's peak, plus the carried state's next value and the stacked scan outputs being filled
  const inner = planMemory(body.value, shapeOf);
  return inner.peakBytes + inner.inputBytes;
}

/** Simulates allocation and deallocation over `executionOrder(g)`. */
export function planMemory(g: Graph, shapeOfIn: (t: string) => TensorShape | undefined): MemoryPlan {
  const shapeOf = (t: string): TensorShape | undefined => {
    const known = shapeOfIn(t);
    if (known) return known;
    const vi = g.valueInfo.get(t) ?? g.outputs.find((o) => o.name === t) ?? g.inputs.find((i) => i.name === t);
    return vi?.shape && vi.shape.every((d) => typeof d === 'number') ? { dtype: vi.dtype, dims: vi.shape as number[] } : undefined;
  };
  const order = executionOrder(g);
  const lastUse = new Map<string, number>();
  order.forEach((n, i) => {
    for (const t of nodeInputs(n)) if (t) lastUse.set(t, i);
  });
  const outputs = new Set(g.outputs.map((o) => o.name));
  const external = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  const live = new Map<string, { bytes: number; producer: string }>();
  let current = 0;
  let peak = 0;
  let peakAt = 0;
  let snapshot: MemoryPlan['liveAtPeak'] = [];
  const freeAt = new Map<number, string[]>();
  order.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o || external.has(o)) continue;
      const b = bytesOf(shapeOf(o));
      live.set(o, { bytes: b, producer: n.name });
      current += b;
      const end = outputs.has(o) ? order.length : (lastUse.get(o) ?? i);
      let list = freeAt.get(end);
      if (!list) freeAt.set(end, (list = []));
      list.push(o);
    }
    const during = current + workspace(n, shapeOf);
    if (during > peak) {
      peak = during;
      peakAt = i;
      snapshot = [...live]
        .map(([name, v]) => ({ name, ...v }))
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, 20);
    }
    for (const t of freeAt.get(i) ?? []) {
      current -= live.get(t)!.bytes;
      live.delete(t);
    }
  });
  const read = new Set<string>();
  for (const n of g.nodes) for (const t of nodeInputs(n)) read.add(t);
  let weightBytes = 0;
  for (const [k, t] of g.initializers) if (read.has(k)) weightBytes += numel(t.dims) * DTYPE_SIZE[t.dtype];
  let inputBytes = 0;
  for (const i of g.inputs) inputBytes += bytesOf(shapeOf(i.name) ?? (i.shape && i.shape.every((d) => typeof d === 'number') ? { dtype: i.dtype, dims: i.shape as number[] } : undefined));
  return { peakBytes: peak, peakAt, order, liveAtPeak: snapshot, weightBytes, inputBytes };
}

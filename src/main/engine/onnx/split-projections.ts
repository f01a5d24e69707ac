/**
 * Projections whose output is only read in slices become one projection per slice.
 *
 * Gated feed-forwards (GEGLU in SD's transformer blocks: `h, gate = proj(x).chunk(2, dim=-1)`)
 * export as MatMul(x, W) [+ bias] followed by Slices of the last axis. ONNX Runtime copies each
 * slice out of the projection (a Split of [tokens, 2·inner] per block), and the backward pass pads
 * each slice's gradient back to the full width and adds the two (the Slice rule's VJP): at SD 2-1's
 * 768 px three full-width copies per block, a second and a half of a training step on 2 CPU cores.
 * x·W[:, a:b] + bias[a:b] per slice is the same product without them: the weights are sliced
 * once, here, and the backward pass gets one GEMM per slice.
 */
import type { DType } from './dtypes.js';
import { consumerMap, nodeInputs, validateGraph } from './graph-utils.js';
import { type Graph, type HostTensor, type Model, type Node, readTensor, tensorValueFromHost } from './ir.js';

type Info = Map<string, { dtype: DType; dims: number[] }>;

/** A 1-element int64/int32 initializer's value. */
function scalarInt(g: Graph, name: string | undefined): number | undefined {
  if (!name) return undefined;
  const t = g.initializers.get(name);
  if (!t || t.dims.reduce((a, b) => a * b, 1) !== 1 || (t.dtype !== 'int64' && t.dtype !== 'int32')) return undefined;
  const v = readTensor(t).data;
  return Number(v[0]);
}

/** Columns [from, to) of a row-major [rows, cols] (or [cols]) float32 tensor. */
function columns(t: HostTensor, from: number, to: number): HostTensor {
  const cols = t.dims.at(-1)!;
  const rows = t.dims.length === 2 ? t.dims[0] : 1;
  const src = t.data as Float32Array;
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + to), r * (to - from));
  return { dtype: 'float32', dims: t.dims.length === 2 ? [rows, to - from] : [to - from], data: out };
}

/**
 * Rewrites every MatMul(x, W) [+ b] (W a float32 [K, N] initializer, b a [N] one) whose output
 * only Slices of the last axis read (constant bounds, step 1) into one MatMul [+ Add] per slice,
 * named as the slices' outputs. `info` (shapes of a specialised graph) is updated in place.
 * Returns how many projections were split.
 */
export function splitSlicedProjections(model: Model, info: Info): number {
  const g = model.graph;
  const outputs = new Set(g.outputs.map((o) => o.name));
  const consumers = consumerMap(g);
  const removed = new Set<Node>();
  const replacement = new Map<Node, Node[]>();
  let split = 0;
  for (const mm of g.nodes) {
    if (mm.opType !== 'MatMul' || mm.domain) continue;
    const w = g.initializers.get(mm.inputs[1]);
    if (!w || w.dtype !== 'float32' || w.dims.length !== 2) continue;
    const N = w.dims[1];
    let out = mm.outputs[0];
    let add: Node | undefined;
    let bias: string | undefined;
    const users = consumers.get(out) ?? [];
    if (users.length === 1 && users[0].opType === 'Add' && !users[0].domain) {
      const other = users[0].inputs[0] === out ? users[0].inputs[1] : users[0].inputs[0];
      const b = g.initializers.get(other);
      if (b && b.dtype === 'float32' && b.dims.length === 1 && b.dims[0] === N && !outputs.has(out)) {
        add = users[0];
        bias = other;
        out = add.outputs[0];
      }
    }
    if (outputs.has(out)) continue;
    const slices = consumers.get(out) ?? [];
    const rank = info.get(out)?.dims.length;
    if (slices.length < 2 || rank === undefined) continue;
    const ranges: { node: Node; from: number; to: number }[] = [];
    for (const s of slices) {
      if (s.opType !== 'Slice' || s.domain || s.inputs[0] !== out) break;
      const axis = scalarInt(g, s.inputs[3]);
      const step = s.inputs[4] ? scalarInt(g, s.inputs[4]) : 1;
      const start = scalarInt(g, s.inputs[1]);
      const end = scalarInt(g, s.inputs[2]);
      if (axis === undefined || (axis !== -1 && axis !== rank - 1) || step !== 1 || start === undefined || end === undefined) break;
      const clamp = (v: number) => Math.max(0, Math.min(N, v < 0 ? v + N : v));
      const [from, to] = [clamp(start), clamp(end)];
      if (to <= from) break;
      ranges.push({ node: s, from, to });
    }
    if (ranges.length !== slices.length) continue;
    const W = readTensor(w);
    const B = bias ? readTensor(g.initializers.get(bias)!) : null;
    const nodes: Node[] = [];
    for (const [k, r] of ranges.entries()) {
      const wName = `${mm.inputs[1]}__cols_${r.from}_${r.to}`;
      g.initializers.set(wName, tensorValueFromHost(wName, columns(W, r.from, r.to)));
      info.set(wName, { dtype: 'float32', dims: [w.dims[0], r.to - r.from] });
      const target = r.node.outputs[0];
      const dims = [...info.get(out)!.dims.slice(0, -1), r.to - r.from];
      const mmOut = B ? `${mm.outputs[0]}__cols_${k}` : target;
      nodes.push({ name: `${mm.name}__cols_${k}`, opType: 'MatMul', domain: '', inputs: [mm.inputs[0], wName], outputs: [mmOut], attrs: {}, metadata: mm.metadata });
      info.set(mmOut, { dtype: 'float32', dims });
      if (B && add) {
        const bName = `${bias}__cols_${r.from}_${r.to}`;
        g.initializers.set(bName, tensorValueFromHost(bName, columns(B, r.from, r.to)));
        info.set(bName, { dtype: 'float32', dims: [r.to - r.from] });
        nodes.push({ name: `${add.name}__cols_${k}`, opType: 'Add', domain: '', inputs: [mmOut, bName], outputs: [target], attrs: {}, metadata: add.metadata });
      }
    }
    for (const n of [mm, ...(add ? [add] : []), ...slices]) removed.add(n);
    replacement.set(slices[0], nodes);
    split++;
  }
  if (split === 0) return 0;
  // the replacements go where the first slice was (consumerMap lists consumers in node order):
  // after the projection's input, before any reader of a slice
  const kept: Node[] = [];
  for (const n of g.nodes) {
    const r = replacement.get(n);
    if (r) kept.push(...r);
    else if (!removed.has(n)) kept.push(n);
  }
  g.nodes = kept;
  const used = new Set(g.nodes.flatMap((n) => nodeInputs(n)));
  for (const k of [...g.initializers.keys()]) if (!used.has(k) && !outputs.has(k)) g.initializers.delete(k);
  validateGraph(g);
  return split;
}

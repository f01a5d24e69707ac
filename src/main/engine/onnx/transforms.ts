/**
 * Graph surgery on module scopes: `tap` makes a module's output the graph's only output; `cut`
 * makes it a new float input and prunes what fed it.
 */
import { AppError } from '../../shared/errors.js';
import { inferDtypes } from './dtype-infer.js';
import { isFloat } from './dtypes.js';
import { producerMap, pruneDead, renameUses, requiredInputs, validateGraph } from './graph-utils.js';
import { cloneModel, type Dim, type Model } from './ir.js';
import { moduleOutput, resolveScope } from './scopes.js';
import { specialize } from './specialize.js';

export interface TapResult {
  model: Model;
  scope: string;
  /** The module output's tensor name in the source model. */
  tensor: string;
  outputName: string;
}

/** The model restricted to what `scope`'s output needs, with that output as the only graph output. */
export function tap(model: Model, scopeArg: string, outputName?: string): TapResult {
  const scope = resolveScope(model.graph, scopeArg);
  const { tensor } = moduleOutput(model.graph, scope);
  const m = cloneModel(model);
  const g = m.graph;
  const dtypes = inferDtypes(g);
  const name = outputName ?? tensor;
  if (name !== tensor) {
    if (producerMap(g).has(name) || g.initializers.has(name) || g.inputs.some((i) => i.name === name)) {
      throw new AppError('INVALID_ARGUMENT', `cannot name the output '${name}': the graph already has a tensor of that name`);
    }
    const producer = producerMap(g).get(tensor)!;
    producer.outputs = producer.outputs.map((o) => (o === tensor ? name : o));
    renameUses(g, tensor, name);
  }
  const known = g.valueInfo.get(tensor);
  g.outputs = [{ name, dtype: dtypes.get(tensor) ?? 'float32', shape: known?.shape ?? null }];
  pruneDead(g);
  validateGraph(g);
  m.metadata = { ...m.metadata, 'sd4match.tap': scope };
  return { model: m, scope, tensor, outputName: name };
}

export interface CutResult {
  model: Model;
  scope: string;
  tensor: string;
  inputName: string;
  /** Outputs dropped because they still need what the cut removed, with the reason. */
  dropped: { output: string; needs: string[] }[];
}

/**
 * Replaces `scope`'s output by a new float input `inputName`; everything only that output needed
 * is pruned. Outputs that still need an original input the module consumed (CLIP's pooler
 * output reads `input_ids`) are dropped and reported.
 */
export function cut(model: Model, scopeArg: string, inputName: string): CutResult {
  const scope = resolveScope(model.graph, scopeArg);
  const { tensor } = moduleOutput(model.graph, scope);
  const dtypes = inferDtypes(model.graph);
  const dtype = dtypes.get(tensor);
  if (!dtype || !isFloat(dtype)) {
    throw new AppError('INVALID_ARGUMENT', `the output '${tensor}' of module '${scope}' is ${dtype ?? 'of unknown type'}, not float; it cannot become a float input`);
  }
  const m = cloneModel(model);
  const g = m.graph;
  if (producerMap(g).has(inputName) || g.initializers.has(inputName) || g.inputs.some((i) => i.name === inputName)) {
    throw new AppError('INVALID_ARGUMENT', `cannot add input '${inputName}': the graph already has a tensor of that name`);
  }
  const shape = cutInputShape(model, tensor);
  const originalInputs = new Set(g.inputs.map((i) => i.name));
  renameUses(g, tensor, inputName);
  g.outputs = g.outputs.map((o) => (o.name === tensor ? { ...o, name: inputName } : o));
  g.inputs.push({ name: inputName, dtype, shape });

  // Outputs that still read an original input upstream of the module are dropped.
  const upstream = upstreamInputs(model, tensor);
  const dropped: { output: string; needs: string[] }[] = [];
  const keep = g.outputs.filter((o) => {
    const probe = { ...g, outputs: [o] };
    const needs = [...requiredInputs(probe)].filter((i) => originalInputs.has(i) && upstream.has(i));
    if (needs.length) dropped.push({ output: o.name, needs });
    return needs.length === 0;
  });
  if (keep.length === 0) {
    throw new AppError('INVALID_ARGUMENT', `after cutting '${scope}' every output still needs ${[...upstream].join(', ')}; there is nothing left to compute`);
  }
  g.outputs = keep;
  pruneDead(g);
  validateGraph(g);
  m.metadata = { ...m.metadata, 'sd4match.cut': `${scope}:${inputName}` };
  return { model: m, scope, tensor, inputName, dropped };
}

/** Graph inputs the tensor depends on. */
function upstreamInputs(model: Model, tensor: string): Set<string> {
  return requiredInputs({ ...model.graph, outputs: [{ name: tensor, dtype: 'float32', shape: null }] });
}

/**
 * The new input's declared shape: symbolic where a dimension follows a symbolic graph-input
 * dimension, fixed otherwise. Found by inferring shapes with distinct probe sizes.
 */
function cutInputShape(model: Model, tensor: string): Dim[] | null {
  const probeValues = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29];
  const symbols = new Map<number, string>();
  const shapes: Record<string, number[]> = {};
  let k = 0;
  const needed = upstreamInputs(model, tensor);
  for (const input of model.graph.inputs) {
    if (!needed.has(input.name)) continue;
    if (!input.shape) return null;
    shapes[input.name] = input.shape.map((d, i) => {
      if (typeof d === 'number') return d;
      const v = probeValues[k++ % probeValues.length];
      symbols.set(v, typeof d === 'string' ? d : `${input.name}_${i}`);
      return v;
    });
  }
  try {
    const probe = cloneModel(model);
    probe.graph.outputs = [{ name: tensor, dtype: 'float32', shape: null }];
    probe.graph.inputs = probe.graph.inputs.filter((i) => needed.has(i.name));
    const { info } = specialize(probe, shapes);
    const dims = info.get(tensor)?.dims;
    if (!dims) return null;
    return dims.map((d) => symbols.get(d) ?? d);
  } catch {
    // Shape probing is best effort; an unknown shape is still a valid declaration.
    return null;
  }
}

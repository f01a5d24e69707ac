/**
 * Running graphs and their vector-Jacobian products on host tensors: the service behind the
 * `graph run` / `graph vjp` commands and the parity tests.
 */
import { AppError } from '../../shared/errors.js';
import { buildVjp, type VjpGraph } from '../autodiff/backprop.js';
import { type HostTensor, type Model } from '../onnx/ir.js';
import { createModelSession, type Session, type SessionOptions } from '../onnx/runtime.js';
import { specialize } from '../onnx/specialize.js';
import { concatBatch, planBatches, sliceBatch, sumTensors } from './batching.js';

function checkFeeds(model: Model, feeds: Record<string, HostTensor>): void {
  for (const input of model.graph.inputs) {
    const t = feeds[input.name];
    if (!t) throw new AppError('INVALID_ARGUMENT', `missing input '${input.name}' (${input.dtype} [${(input.shape ?? []).join(', ')}])`);
    if (t.dtype !== input.dtype) throw new AppError('INVALID_ARGUMENT', `input '${input.name}' must be ${input.dtype}, got ${t.dtype}`);
  }
  for (const name of Object.keys(feeds)) {
    if (!model.graph.inputs.some((i) => i.name === name)) {
      throw new AppError('INVALID_ARGUMENT', `'${name}' is not an input of the graph (inputs: ${model.graph.inputs.map((i) => i.name).join(', ')})`);
    }
  }
}

function shapesOf(feeds: Record<string, HostTensor>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims]));
}

async function runChunks(
  session: Session,
  feeds: Record<string, HostTensor>,
  plan: { chunks: number; split: Set<string>; chunkShapes: Record<string, number[]> },
  sumOutputs: Set<string> = new Set(),
): Promise<Record<string, HostTensor>> {
  if (plan.chunks === 1) return session.run(feeds);
  const results: Record<string, HostTensor>[] = [];
  for (let k = 0; k < plan.chunks; k++) {
    const chunk: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(feeds)) chunk[name] = plan.split.has(name) ? sliceBatch(t, k, plan.chunkShapes[name][0]) : t;
    results.push(await session.run(chunk));
  }
  const out: Record<string, HostTensor> = {};
  for (const name of Object.keys(results[0])) {
    const parts = results.map((r) => r[name]);
    out[name] = sumOutputs.has(name) ? sumTensors(parts) : concatBatch(parts);
  }
  return out;
}

/** Runs a model on host tensors (cutting oversize batches for static-batch models). */
export async function runModel(model: Model, feeds: Record<string, HostTensor>, options: SessionOptions = {}): Promise<Record<string, HostTensor>> {
  checkFeeds(model, feeds);
  const plan = planBatches(model.graph.inputs, shapesOf(feeds));
  const session = await createModelSession(model, options);
  try {
    return await runChunks(session, feeds, plan);
  } finally {
    await session.dispose();
  }
}

export interface VjpRun {
  outputs: Record<string, HostTensor>;
  /** Gradient per differentiated input. */
  grads: Record<string, HostTensor>;
  graph: VjpGraph;
  provider: string;
}

/**
 * Builds the VJP graph for the feeds' shapes and runs it once: the model's outputs and
 * d<output, cotangent>/d input for every input in `wrt`.
 */
export async function runVjp(model: Model, feeds: Record<string, HostTensor>, cotangent: HostTensor, opts: { wrt: string[]; output?: string }, options: SessionOptions = {}): Promise<VjpRun> {
  checkFeeds(model, feeds);
  const plan = planBatches(model.graph.inputs, shapesOf(feeds));
  const spec = specialize(model, plan.chunkShapes);
  const graph = buildVjp(spec, { wrt: opts.wrt, output: opts.output });
  const outInfo = graph.info.get(graph.output)!;
  const expected = plan.chunks === 1 ? outInfo.dims : [outInfo.dims[0] * plan.chunks, ...outInfo.dims.slice(1)];
  if (cotangent.dtype !== outInfo.dtype) {
    throw new AppError('INVALID_ARGUMENT', `the cotangent must be ${outInfo.dtype} like output '${graph.output}', got ${cotangent.dtype}`);
  }
  if (cotangent.dims.length !== expected.length || cotangent.dims.some((d, i) => d !== expected[i])) {
    throw new AppError('INVALID_ARGUMENT', `the cotangent must have the shape of output '${graph.output}' [${expected.join(', ')}], got [${cotangent.dims.join(', ')}]`);
  }
  const session = await createModelSession(graph.model, options);
  try {
    const allFeeds = { ...feeds, [graph.cotangentInput!]: cotangent };
    const chunkPlan = { ...plan, split: new Set([...plan.split, graph.cotangentInput!]) };
    chunkPlan.chunkShapes = { ...plan.chunkShapes, [graph.cotangentInput!]: outInfo.dims };
    // gradients of inputs every chunk shares are sums over the chunks
    const summed = new Set(opts.wrt.filter((w) => !plan.split.has(w)).map((w) => graph.gradOutputs[w]));
    const res = await runChunks(session, allFeeds, chunkPlan, plan.chunks > 1 ? summed : new Set());
    const grads: Record<string, HostTensor> = {};
    const outputs: Record<string, HostTensor> = {};
    const gradNames = new Map(Object.entries(graph.gradOutputs).map(([k, v]) => [v, k]));
    for (const [name, t] of Object.entries(res)) {
      const w = gradNames.get(name);
      if (w) grads[w] = t;
      else outputs[name] = t;
    }
    return { outputs, grads, graph, provider: session.provider };
  } finally {
    await session.dispose();
  }
}

/**
 * Gradient checks through ONNX Runtime: a one-node model per case, its VJP graph from our
 * autodiff, and central finite differences of s(x) = <c, f(x)> on the plain forward graph.
 * Checks (JAX check_vjp / ORT gradient_checker style):
 *  - the VJP graph's forward outputs against the plain forward graph's (FORWARD_TOL);
 *  - full Jacobian-transpose-vector product, element by element by central differences, for
 *    inputs up to JACOBIAN_MAX_VALUES values;
 *  - the inner product <J t, c> = <t, Jᵀ c> for a random direction t over all differentiated inputs.
 * Nothing is skipped silently: the result says which input was checked by what, and why not.
 */
import { expect } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import { type DType, allocTypedArray } from '../../src/main/engine/onnx/dtypes.js';
import { type Attr, type HostTensor, type Model, numel } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { constToTensorValue, specialize } from '../../src/main/engine/onnx/specialize.js';
import { Rng } from './random.js';

export type Sampler = 'normal' | 'positive' | 'awayFromZero' | 'distinct' | 'unit';

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Differentiate this input (float inputs default to true). */
  grad?: boolean;
  sampler?: Sampler;
  /** Fixed values: become a constant initializer (shape parameters, indices). */
  values?: number[];
  /** Omitted optional input. */
  omit?: boolean;
}

export interface GradCase {
  op: string;
  name: string;
  inputs: InputSpec[];
  attrs?: Record<string, number | number[] | string | { tensor: { dtype: DType; dims: number[]; values: number[] } }>;
  opset?: number;
  outputs?: number;
  /** Which output the cotangent applies to. */
  outputIndex?: number;
  /** Relative tolerance of the finite-difference comparison. */
  tol?: number;
  /** Finite-difference step. */
  eps?: number;
  seed?: number;
  /**
   * Further nodes after the op under test (inputs name 'x<i>' or 'y<i>'); the cotangent then
   * applies to the last node's output. Exercises rules that look at their consumers.
   */
  /** How many of `inputs` the op under test takes (the rest feed `then`); default all. */
  arity?: number;
  then?: { op: string; inputs: string[]; attrs?: Record<string, number | number[] | string> }[];
  /**
   * Tensors kept as further graph outputs besides the differentiated one (e.g. 'y0' next to a
   * `then` chain): not differentiated, but in the forward-output comparison.
   */
  sideOutputs?: string[];
}

/** Inputs with more values than this get no full Jacobian (2 forward runs per value). */
export const JACOBIAN_MAX_VALUES = 256;

/**
 * Tolerance of the forward-output comparison (relative L2 per output): the VJP graph runs the
 * same forward nodes on the same inputs with graph optimisations off, so only the rounding of a
 * differently scheduled kernel may differ.
 */
export const FORWARD_TOL = { float64: 1e-12, float32: 1e-6 } as const;

function sample(rng: Rng, s: Sampler | undefined, n: number): number[] {
  switch (s ?? 'normal') {
    case 'positive':
      return Array.from({ length: n }, () => rng.uniform(0.5, 2));
    case 'awayFromZero':
      return Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.3, 1.5));
    case 'unit':
      return Array.from({ length: n }, () => rng.uniform(-0.9, 0.9));
    case 'distinct': {
      // well separated values in random order (max/argmax stay put under the FD step)
      const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [v[i], v[j]] = [v[j], v[i]];
      }
      return v;
    }
    default:
      return Array.from({ length: n }, () => rng.normal());
  }
}

function toAttr(v: GradCase['attrs'] extends Record<string, infer T> | undefined ? T : never): Attr {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) return { type: 'ints', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  return { type: 'tensor', value: constToTensorValue('value', { dtype: v.tensor.dtype, dims: v.tensor.dims, v: v.tensor.values }) };
}

/** ||a - b|| / max(||a||, ||b||), 0 for two zero tensors. */
function relL2(a: number[], b: number[]): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return d === 0 ? 0 : Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb));
}

function host(dtype: DType, dims: number[], values: number[]): HostTensor {
  const data = allocTypedArray(dtype, values.length);
  if (data instanceof BigInt64Array) values.forEach((v, i) => (data[i] = BigInt(v)));
  else values.forEach((v, i) => ((data as Float64Array)[i] = v));
  return { dtype, dims, data };
}

/** 'jacobian': every element by central differences; 'innerProduct': <J t, c> = <t, Jᵀ c>. */
export type CheckMethod = 'jacobian' | 'innerProduct';

/** How one input of the case was checked; `skipped` gives the reason for each check left out. */
export interface InputCheck {
  input: string;
  values: number;
  by: CheckMethod[];
  skipped: { check: CheckMethod; reason: string }[];
}

export interface GradCheckResult {
  /** max over the inputs checked by 'jacobian' of ||numeric - analytic|| / max(||numeric||, ||analytic||); null when none was */
  jacobianError: number | null;
  /** |<Jt, c> - <t, Jᵀc>| / max(|.|) */
  innerProductError: number;
  /** L2 norm of the analytic gradients (a check that something flowed). */
  gradNorm: number;
  /** Every input of the case, differentiated or not, and what checked it. */
  inputs: InputCheck[];
  /** The VJP graph's forward outputs against the plain forward graph's (relative L2, per output). */
  forward: { outputs: string[]; error: number; tol: number };
}

export async function gradcheck(c: GradCase): Promise<GradCheckResult> {
  const rng = new Rng(c.seed ?? 1234);
  const opset = c.opset ?? 17;
  const inputsNames = c.inputs.map((_, i) => (c.inputs[i].omit ? '' : `x${i}`));
  const nOut = c.outputs ?? 1;
  const outNames = Array.from({ length: nOut }, (_, i) => `y${i}`);
  const graphInputs: { name: string; dtype: DType; shape: number[] }[] = [];
  const feeds: Record<string, HostTensor> = {};
  const model: Model = {
    irVersion: 8,
    opsets: [{ domain: '', version: opset }],
    producerName: 'gradcheck',
    producerVersion: '',
    docString: '',
    metadata: {},
    functions: [],
    source: c.name,
    graph: {
      name: c.name,
      nodes: [],
      inputs: [],
      outputs: [],
      initializers: new Map(),
      valueInfo: new Map(),
    },
  };
  c.inputs.forEach((spec, i) => {
    if (spec.omit) return;
    const dtype = spec.dtype ?? 'float64';
    const name = inputsNames[i];
    if (spec.values) {
      model.graph.initializers.set(name, constToTensorValue(name, { dtype, dims: spec.shape, v: spec.values }));
      return;
    }
    const values = sample(rng, spec.sampler, numel(spec.shape));
    graphInputs.push({ name, dtype, shape: spec.shape });
    feeds[name] = host(dtype, spec.shape, values);
  });
  model.graph.inputs = graphInputs.map((g) => ({ name: g.name, dtype: g.dtype, shape: g.shape }));
  const attrs: Record<string, Attr> = {};
  for (const [k, v] of Object.entries(c.attrs ?? {})) attrs[k] = toAttr(v);
  model.graph.nodes.push({ name: `${c.op}_node`, opType: c.op, domain: '', inputs: inputsNames.slice(0, c.arity ?? inputsNames.length), outputs: [...outNames], attrs, metadata: {} });
  model.graph.outputs = outNames.map((name) => ({ name, dtype: 'float64', shape: null }));
  (c.then ?? []).forEach((t, k) => {
    const a: Record<string, Attr> = {};
    for (const [key, v] of Object.entries(t.attrs ?? {})) a[key] = toAttr(v);
    const out = `z${k}`;
    model.graph.nodes.push({ name: `${t.op}_then${k}`, opType: t.op, domain: '', inputs: t.inputs, outputs: [out], attrs: a, metadata: {} });
    outNames.splice(0, outNames.length, out);
    model.graph.outputs = [{ name: out, dtype: 'float64', shape: null }];
  });

  for (const t of c.sideOutputs ?? []) model.graph.outputs.push({ name: t, dtype: 'float64', shape: null });

  const shapes = Object.fromEntries(graphInputs.map((g) => [g.name, g.shape]));
  const outIndex = c.then ? 0 : (c.outputIndex ?? 0);
  const spec = specialize(model, shapes, { outputs: [outNames[outIndex], ...(c.sideOutputs ?? [])] });
  const yInfo = spec.info.get(outNames[outIndex])!;
  const wrt = graphInputs.filter((g, k) => (c.inputs.filter((s) => !s.omit && !s.values)[k].grad ?? true) && g.dtype.startsWith('float')).map((g) => g.name);
  const checks = new Map<string, InputCheck>();
  c.inputs.forEach((spec, i) => {
    if (spec.omit) return;
    const input = inputsNames[i];
    const check: InputCheck = { input, values: numel(spec.shape), by: [], skipped: [] };
    const reason = spec.values
      ? 'a constant initializer'
      : !(spec.dtype ?? 'float64').startsWith('float')
        ? `not a float input (${spec.dtype})`
        : !wrt.includes(input)
          ? 'not differentiated (grad: false)'
          : null;
    if (reason) for (const m of ['jacobian', 'innerProduct'] as const) check.skipped.push({ check: m, reason });
    checks.set(input, check);
  });
  const vjp = buildVjp(spec, { wrt, output: outNames[outIndex] });
  const cot = host(yInfo.dtype, yInfo.dims, sample(rng, 'normal', numel(yInfo.dims)));

  const vjpSession = await createModelSession(vjp.model, { graphOptimization: 'disabled' });
  const fwdSession = await createModelSession(spec.model, { graphOptimization: 'disabled' });
  try {
    const res = await vjpSession.run({ ...feeds, [vjp.cotangentInput!]: cot });
    const plain = await fwdSession.run(feeds);
    const forward = { outputs: spec.model.graph.outputs.map((o) => o.name), error: 0, tol: 0 };
    for (const o of forward.outputs) {
      const want = plain[o];
      const got = res[o];
      forward.tol = Math.max(forward.tol, want.dtype === 'float32' ? FORWARD_TOL.float32 : FORWARD_TOL.float64);
      if (!got) throw new Error(`the VJP graph lost the forward output '${o}'`);
      forward.error = Math.max(forward.error, relL2(Array.from(got.data, Number), Array.from(want.data, Number)));
    }
    const s = async (f: Record<string, HostTensor>) => {
      const y = (await fwdSession.run(f))[outNames[outIndex]];
      let acc = 0;
      for (let i = 0; i < y.data.length; i++) acc += Number(y.data[i]) * Number(cot.data[i]);
      return acc;
    };
    const eps = c.eps ?? (yInfo.dtype === 'float64' ? 1e-5 : 1e-2);
    let worst: number | null = null;
    let gradNorm = 0;
    for (const w of wrt) {
      const analytic = res[vjp.gradOutputs[w]];
      for (let i = 0; i < analytic.data.length; i++) gradNorm += Number(analytic.data[i]) ** 2;
      const x = feeds[w];
      const n = x.data.length;
      if (n > JACOBIAN_MAX_VALUES) {
        checks.get(w)!.skipped.push({ check: 'jacobian', reason: `${n} values > ${JACOBIAN_MAX_VALUES} (2 forward runs per value); the inner product covers it` });
        continue;
      }
      const numeric = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const plus = host(x.dtype, x.dims, Array.from(x.data as Float64Array));
        const minus = host(x.dtype, x.dims, Array.from(x.data as Float64Array));
        (plus.data as Float64Array)[i] += eps;
        (minus.data as Float64Array)[i] -= eps;
        numeric[i] = ((await s({ ...feeds, [w]: plus })) - (await s({ ...feeds, [w]: minus }))) / (2 * eps);
      }
      let diff = 0;
      let nn = 0;
      let na = 0;
      for (let i = 0; i < n; i++) {
        const a = Number(analytic.data[i]);
        diff += (numeric[i] - a) ** 2;
        nn += numeric[i] ** 2;
        na += a * a;
      }
      worst = Math.max(worst ?? 0, Math.sqrt(diff) / Math.max(Math.sqrt(nn), Math.sqrt(na), 1e-8));
      checks.get(w)!.by.push('jacobian');
    }
    // <J t, c> by central differences along a random direction t, against <t, Jᵀ c>
    const dirs: Record<string, HostTensor> = {};
    let tJc = 0;
    for (const w of wrt) {
      const t = host(feeds[w].dtype, feeds[w].dims, sample(rng, 'normal', feeds[w].data.length));
      dirs[w] = t;
      const g = res[vjp.gradOutputs[w]];
      for (let i = 0; i < t.data.length; i++) tJc += Number(t.data[i]) * Number(g.data[i]);
    }
    const shifted = (sign: number) => {
      const f: Record<string, HostTensor> = { ...feeds };
      for (const w of wrt) {
        const v = Array.from(feeds[w].data as Float64Array, (a, i) => a + sign * eps * Number(dirs[w].data[i]));
        f[w] = host(feeds[w].dtype, feeds[w].dims, v);
      }
      return f;
    };
    const Jtc = ((await s(shifted(1))) - (await s(shifted(-1)))) / (2 * eps);
    const ip = Math.abs(Jtc - tJc) / Math.max(Math.abs(Jtc), Math.abs(tJc), 1e-8);
    for (const w of wrt) checks.get(w)!.by.push('innerProduct');
    return { jacobianError: worst, innerProductError: ip, gradNorm: Math.sqrt(gradNorm), inputs: [...checks.values()], forward };
  } finally {
    await vjpSession.dispose();
    await fwdSession.dispose();
  }
}

/**
 * What every case must show of its report: forward outputs equal, every differentiated input
 * checked by the inner product and, up to JACOBIAN_MAX_VALUES values, by its full Jacobian;
 * every other input named with the reason it was not checked.
 */
export function expectFullyChecked(c: GradCase, r: GradCheckResult): void {
  expect(r.forward.outputs.length).toBeGreaterThan(0);
  expect(r.forward.error).toBeLessThanOrEqual(r.forward.tol);
  const wrt = r.inputs.filter((i) => i.by.length > 0);
  expect(wrt.length).toBeGreaterThan(0);
  for (const i of r.inputs) {
    if (i.by.length === 0) {
      expect(i.skipped.map((s) => s.check).sort()).toEqual(['innerProduct', 'jacobian']);
      continue;
    }
    expect(i.by).toContain('innerProduct');
    if (i.values <= JACOBIAN_MAX_VALUES) expect(i.by).toContain('jacobian');
    else expect(i.skipped).toEqual([{ check: 'jacobian', reason: expect.stringContaining(`${i.values} values`) }]);
  }
  const tol = c.tol ?? 1e-6;
  if (r.inputs.some((i) => i.by.includes('jacobian'))) expect(r.jacobianError).toBeLessThan(tol);
  else expect(r.jacobianError).toBeNull();
  expect(r.innerProductError).toBeLessThan(tol);
}

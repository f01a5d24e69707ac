/**
 * Which nodes must have a gradient rule: only those on a float path from the differentiated inputs
 * to the differentiated output. Off the path (a side output), a missing or forbidden rule is no
 * error; on it, both are errors naming the op and the node. Tolerances: float32 cases 2e-3 (step
 * 1e-2), float64 cases 1e-6 (step 1e-5), as in rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildVjp } from '../../src/main/engine/autodiff/backprop.js';
import { GRADIENT_RULES, ruleFor, ruleOnPath } from '../../src/main/engine/autodiff/registry.js';
import type { DType } from '../../src/main/engine/onnx/dtypes.js';
import type { Model, Node } from '../../src/main/engine/onnx/ir.js';
import type { Specialized } from '../../src/main/engine/onnx/specialize.js';
import { expectFullyChecked, FORWARD_TOL, type GradCase, gradcheck } from '../helpers/gradcheck.js';
import { handModel, node } from '../helpers/graphs.js';

/**
 * A specialised graph written out by hand (shape inference does not know random ops): x -> nodes,
 * with every tensor [3] float32.
 */
function handSpecialized(nodes: Node[], outputs: string[]): Specialized {
  const dtype: DType = 'float32';
  const info = new Map<string, { dtype: DType; dims: number[] }>([['x', { dtype, dims: [3] }]]);
  for (const n of nodes) for (const o of n.outputs) info.set(o, { dtype, dims: [3] });
  const model: Model = handModel('hand', {
    nodes,
    inputs: [{ name: 'x', dtype, shape: [3] }],
    outputs: outputs.map((name) => ({ name, dtype, shape: [3] })),
    initializers: new Map(),
  });
  return { model, info };
}

describe('ops without a gradient rule', () => {
  it('feeding only a side output do not stop a VJP, whose gradients agree with central differences', async () => {
    // z0 = x0 · x1 is differentiated; y0 = Atan(x0) (no rule) is a second graph output
    const c: GradCase = {
      op: 'Atan',
      name: 'Atan feeding a side output',
      inputs: [
        { shape: [2, 3], dtype: 'float32' },
        { shape: [2, 3], dtype: 'float32' },
      ],
      arity: 1,
      then: [{ op: 'Mul', inputs: ['x0', 'x1'] }],
      sideOutputs: ['y0'],
      tol: 2e-3,
    };
    const r = await gradcheck(c);
    expectFullyChecked(c, r);
    expect(r.inputs.map((i) => [i.input, i.by])).toEqual([
      ['x0', ['jacobian', 'innerProduct']],
      ['x1', ['jacobian', 'innerProduct']],
    ]);
    expect(r.forward.outputs).toEqual(['z0', 'y0']);
  });

  it('on the differentiated path are an error naming the op type and the node', async () => {
    // x0 -> Sin -> Atan -> Mul(·, x1): Atan sits between x0 and the output
    const c: GradCase = {
      op: 'Sin',
      name: 'Atan on the path',
      inputs: [
        { shape: [3], dtype: 'float32' },
        { shape: [3], dtype: 'float32' },
      ],
      arity: 1,
      then: [
        { op: 'Atan', inputs: ['y0'] },
        { op: 'Mul', inputs: ['z0', 'x1'] },
      ],
    };
    await expect(gradcheck(c)).rejects.toThrow("no gradient rule for op Atan at node 'Atan_then0'");
  });

  it('on the path only towards an input that is not differentiated are no error', async () => {
    const c: GradCase = {
      op: 'Atan',
      name: 'Atan on the branch of x0 only',
      inputs: [
        { shape: [3], dtype: 'float32', grad: false },
        { shape: [3], dtype: 'float32' },
      ],
      arity: 1,
      then: [{ op: 'Mul', inputs: ['y0', 'x1'] }],
      tol: 2e-3,
    };
    expectFullyChecked(c, await gradcheck(c));
  });
});

describe('forbidden gradients', () => {
  it('are registered as their own kind, each saying why', () => {
    const forbidden = GRADIENT_RULES.filter((r) => r.kind === 'forbidden');
    expect(forbidden.map((r) => r.opType).sort()).toEqual(['Bernoulli', 'RandomNormalLike', 'RandomUniformLike', 'Range']);
    for (const r of forbidden) if (r.kind === 'forbidden') expect(r.why.length).toBeGreaterThan(40);
    // Range of float operands is not a zero-gradient op: its start and delta move every value
    expect(ruleFor(node('r', 'Range', ['s', 'l', 'd'], ['y']), 17).kind).toBe('forbidden');
    expect(() => ruleOnPath(node('r', 'Range', ['s', 'l', 'd'], ['y']), 17)).toThrow("the gradient of op Range at node 'r' must not be asked for: Range with float operands");
  });

  it('throw naming the op, the node and why when a random op is on the differentiated path', () => {
    const spec = handSpecialized([node('noise', 'RandomNormalLike', ['x'], ['e']), node('mix', 'Add', ['x', 'e'], ['y'])], ['y']);
    expect(() => buildVjp(spec, { wrt: ['x'] })).toThrow(/the gradient of op RandomNormalLike at node 'noise' must not be asked for: a random op on the differentiated path/);
  });

  it('are no error off the path: a random op feeding only a side output', () => {
    const spec = handSpecialized([node('noise', 'RandomNormalLike', ['x'], ['e']), node('square', 'Mul', ['x', 'x'], ['y'])], ['y', 'e']);
    const v = buildVjp(spec, { wrt: ['x'], output: 'y' });
    expect(v.model.graph.outputs.map((o) => o.name)).toEqual(['y', 'e', v.gradOutputs.x]);
    expect(v.model.graph.nodes.some((n) => n.name.startsWith('noise_Grad'))).toBe(false);
  });
});

describe('gradcheck', () => {
  it('reports its comparison of the VJP graph forward outputs with the plain forward graph', async () => {
    const c: GradCase = { op: 'Mul', name: 'Mul with a side output', inputs: [{ shape: [2, 3] }, { shape: [3] }], arity: 2, then: [{ op: 'Sin', inputs: ['y0'] }], sideOutputs: ['y0'] };
    const r = await gradcheck(c);
    expect(r.forward.outputs).toEqual(['z0', 'y0']);
    expect(r.forward.tol).toBe(FORWARD_TOL.float64);
    expect(r.forward.error).toBeLessThanOrEqual(r.forward.tol);
    expectFullyChecked(c, r);
  });

  it('says why an input got no full Jacobian instead of skipping it silently', async () => {
    const c: GradCase = { op: 'Add', name: 'Add of a long vector', inputs: [{ shape: [300] }, { shape: [] }] };
    const r = await gradcheck(c);
    const [long, scalar] = r.inputs;
    expect(long).toEqual({ input: 'x0', values: 300, by: ['innerProduct'], skipped: [{ check: 'jacobian', reason: expect.stringContaining('300 values > 256') }] });
    expect(scalar.by).toEqual(['jacobian', 'innerProduct']);
    expectFullyChecked(c, r);
  });

  it('names inputs it does not differentiate, with the reason', async () => {
    const c: GradCase = { op: 'Reshape', name: 'Reshape by a constant shape', inputs: [{ shape: [2, 3] }, { shape: [1], values: [-1], dtype: 'int64' }] };
    const r = await gradcheck(c);
    expect(r.inputs[1]).toEqual({
      input: 'x1',
      values: 1,
      by: [],
      skipped: [
        { check: 'jacobian', reason: 'a constant initializer' },
        { check: 'innerProduct', reason: 'a constant initializer' },
      ],
    });
    expectFullyChecked(c, r);
  });
});

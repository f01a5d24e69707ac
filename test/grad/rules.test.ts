/**
 * Every gradient rule against central finite differences through ONNX Runtime (CPU), one spec row
 * per case: shapes include scalars, broadcasting and size-1 axes; samplers keep inputs off kinks
 * and poles. Tolerances: float64 cases 1e-6 (step 1e-5); float32 cases (ops ORT runs only in
 * float32) 2e-3 (step 1e-2).
 */
import { describe, expect, it } from 'vitest';
import { GRADIENT_RULES } from '../../src/main/engine/autodiff/registry.js';
import { expectFullyChecked, type GradCase, gradcheck } from '../helpers/gradcheck.js';

const F32 = { dtype: 'float32' as const };
const f32 = (c: GradCase): GradCase => ({ tol: 2e-3, ...c, inputs: c.inputs.map((i) => (i.values || i.dtype ? i : { ...i, ...F32 })) });

const unary = (op: string, sampler?: 'positive' | 'awayFromZero' | 'unit'): GradCase[] => [
  { op, name: `${op} on a [2, 3] tensor`, inputs: [{ shape: [2, 3], sampler }] },
  { op, name: `${op} on a scalar`, inputs: [{ shape: [], sampler }] },
];

export const CASES: GradCase[] = [
  { op: 'Add', name: 'Add of equal shapes', inputs: [{ shape: [2, 3] }, { shape: [2, 3] }] },
  { op: 'Add', name: 'Add broadcasts a vector over leading axes', inputs: [{ shape: [2, 3, 4] }, { shape: [4] }] },
  { op: 'Add', name: 'Add broadcasts size-1 axes both ways', inputs: [{ shape: [2, 1, 4] }, { shape: [3, 1] }] },
  { op: 'Add', name: 'Add of a scalar and a matrix', inputs: [{ shape: [] }, { shape: [2, 3] }] },
  { op: 'Sub', name: 'Sub broadcasts the subtrahend', inputs: [{ shape: [2, 3] }, { shape: [3] }] },
  { op: 'Sub', name: 'Sub broadcasts the minuend', inputs: [{ shape: [1] }, { shape: [2, 2] }] },
  { op: 'Mul', name: 'Mul of equal shapes', inputs: [{ shape: [2, 3] }, { shape: [2, 3] }] },
  { op: 'Mul', name: 'Mul broadcasts over the batch axis', inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }] },
  { op: 'Div', name: 'Div of equal shapes', inputs: [{ shape: [2, 3] }, { shape: [2, 3], sampler: 'awayFromZero' }] },
  { op: 'Div', name: 'Div broadcasts the divisor', inputs: [{ shape: [2, 3] }, { shape: [3], sampler: 'awayFromZero' }] },
  {
    op: 'Pow',
    name: 'Pow with tensor exponents',
    inputs: [
      { shape: [2, 3], sampler: 'positive' },
      { shape: [2, 3], sampler: 'unit' },
    ],
  },
  { op: 'Pow', name: 'Pow by the constant 2 (variance)', inputs: [{ shape: [2, 3] }, { shape: [], values: [2] }] },
  {
    op: 'Pow',
    name: 'Pow by a constant scalar 3',
    inputs: [
      { shape: [2, 3], sampler: 'positive' },
      { shape: [], values: [3] },
    ],
  },
  {
    op: 'Pow',
    name: 'Pow with a float32 exponent on a float64 base (exponent cast)',
    inputs: [
      { shape: [3], sampler: 'positive' },
      { shape: [], values: [1.5], dtype: 'float32' },
    ],
  },
  ...unary('Sqrt', 'positive'),
  ...unary('Neg'),
  ...unary('Exp'),
  ...unary('Log', 'positive'),
  ...unary('Sigmoid'),
  ...unary('Tanh'),
  ...unary('Sin'),
  ...unary('Cos'),
  { op: 'Relu', name: 'Relu on mixed signs', inputs: [{ shape: [2, 3], sampler: 'awayFromZero' }] },
  { op: 'Relu', name: 'Relu on a positive scalar', inputs: [{ shape: [], sampler: 'positive' }] },
  ...unary('Abs', 'awayFromZero'),
  ...unary('Reciprocal', 'awayFromZero'),
  ...unary('Erf').map(f32),
  { op: 'Softmax', name: 'Softmax over the last axis', inputs: [{ shape: [2, 5] }] },
  { op: 'Softmax', name: 'Softmax over a middle axis', inputs: [{ shape: [2, 3, 4] }], attrs: { axis: 1 } },
  {
    op: 'Softmax',
    name: 'Softmax feeding a MatMul (attention: row sums from the output)',
    inputs: [{ shape: [2, 4, 5] }, { shape: [2, 5, 3] }],
    arity: 1,
    then: [{ op: 'MatMul', inputs: ['y0', 'x1'] }],
  },
  {
    op: 'Softmax',
    name: 'Softmax feeding two MatMuls (generic row sums)',
    inputs: [{ shape: [4, 5] }, { shape: [5, 3] }, { shape: [5, 3] }],
    arity: 1,
    then: [
      { op: 'MatMul', inputs: ['y0', 'x1'] },
      { op: 'MatMul', inputs: ['y0', 'x2'] },
      { op: 'Add', inputs: ['z0', 'z1'] },
    ],
  },
  { op: 'LogSoftmax', name: 'LogSoftmax over the last axis', inputs: [{ shape: [2, 5] }] },
  { op: 'MatMul', name: 'MatMul of matrices', inputs: [{ shape: [3, 4] }, { shape: [4, 5] }] },
  { op: 'MatMul', name: 'MatMul of a batch by a matrix (linear layer)', inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }] },
  { op: 'MatMul', name: 'MatMul of batches', inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }] },
  { op: 'MatMul', name: 'MatMul broadcasts batch axes', inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }] },
  { op: 'MatMul', name: 'MatMul of a vector by a matrix', inputs: [{ shape: [4] }, { shape: [4, 5] }] },
  { op: 'MatMul', name: 'MatMul of a matrix by a vector', inputs: [{ shape: [3, 4] }, { shape: [4] }] },
  { op: 'MatMul', name: 'MatMul of two vectors', inputs: [{ shape: [4] }, { shape: [4] }] },
  { op: 'Gemm', name: 'Gemm with a broadcast bias', inputs: [{ shape: [3, 4] }, { shape: [4, 5] }, { shape: [5] }], attrs: { alpha: 0.7, beta: 1.3 } },
  { op: 'Gemm', name: 'Gemm with transB (linear layer)', inputs: [{ shape: [3, 4] }, { shape: [5, 4] }, { shape: [5] }], attrs: { transB: 1 } },
  { op: 'Gemm', name: 'Gemm with transA', inputs: [{ shape: [4, 3] }, { shape: [4, 5] }, { shape: [1, 5] }], attrs: { transA: 1, alpha: 0.5 } },
  { op: 'Gemm', name: 'Gemm with transA and transB, no bias', inputs: [{ shape: [4, 3] }, { shape: [5, 4] }], attrs: { transA: 1, transB: 1 } },
  ...(
    [
      { op: 'Conv', name: 'Conv 3x3 with padding and bias', inputs: [{ shape: [1, 2, 5, 5] }, { shape: [3, 2, 3, 3] }, { shape: [3] }], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
      { op: 'Conv', name: 'Conv with stride 2 (downsampler)', inputs: [{ shape: [2, 2, 6, 6] }, { shape: [2, 2, 3, 3] }, { shape: [2] }], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'Conv', name: 'Conv with stride 2 and an odd input (output padding)', inputs: [{ shape: [1, 2, 7, 7] }, { shape: [2, 2, 3, 3] }], attrs: { pads: [0, 1, 0, 1], strides: [2, 2] } },
      { op: 'Conv', name: 'Conv with dilation 2', inputs: [{ shape: [1, 1, 7, 7] }, { shape: [2, 1, 3, 3] }], attrs: { dilations: [2, 2] } },
      { op: 'Conv', name: 'Conv with auto_pad SAME_UPPER', inputs: [{ shape: [1, 2, 5, 5] }, { shape: [2, 2, 2, 2] }], attrs: { auto_pad: 'SAME_UPPER' } },
      { op: 'Conv', name: 'grouped Conv (input gradient)', inputs: [{ shape: [1, 4, 4, 4] }, { shape: [4, 2, 3, 3], grad: false }], attrs: { group: 2, pads: [1, 1, 1, 1] } },
      { op: 'Conv', name: 'Conv 1x1', inputs: [{ shape: [2, 3, 3, 3] }, { shape: [4, 3, 1, 1] }, { shape: [4] }] },
      { op: 'Conv', name: 'Conv 3x2 with uneven padding (flipped-kernel path)', inputs: [{ shape: [1, 2, 6, 5] }, { shape: [3, 2, 3, 2] }], attrs: { pads: [0, 1, 2, 0], kernel_shape: [3, 2] } },
      { op: 'Conv', name: '1-D Conv', inputs: [{ shape: [1, 2, 8] }, { shape: [3, 2, 3] }], attrs: { pads: [1, 1], strides: [2] } },
      { op: 'InstanceNormalization', name: 'InstanceNormalization over [H, W]', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3] }, { shape: [3] }], attrs: { epsilon: 1e-5 } },
      { op: 'InstanceNormalization', name: 'InstanceNormalization of a group-norm view [N, G, L]', inputs: [{ shape: [2, 4, 6] }, { shape: [4] }, { shape: [4] }] },
      {
        op: 'InstanceNormalization',
        name: 'InstanceNormalization with constant unit scale and zero bias (exported GroupNorm)',
        inputs: [{ shape: [2, 4, 6] }, { shape: [4], values: [1, 1, 1, 1], dtype: 'float32' }, { shape: [4], values: [0, 0, 0, 0], dtype: 'float32' }],
      },
      {
        op: 'Resize',
        name: 'Resize nearest x2 (asymmetric, floor: diffusers upsampler)',
        inputs: [{ shape: [1, 2, 3, 3] }, { shape: [0], values: [], dtype: 'float32' }, { shape: [4], values: [1, 1, 2, 2], dtype: 'float32' }],
        attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      },
      {
        op: 'Resize',
        name: 'Resize nearest x2 (half_pixel, round_prefer_floor)',
        inputs: [{ shape: [1, 1, 3, 4] }, { shape: [0], values: [], dtype: 'float32' }, { shape: [4], values: [1, 1, 2, 2], dtype: 'float32' }],
        attrs: { mode: 'nearest' },
      },
      {
        op: 'Resize',
        name: 'Resize nearest to non-integer sizes',
        inputs: [{ shape: [1, 2, 3, 4] }, { shape: [0], values: [], dtype: 'float32' }, { shape: [0], values: [], dtype: 'float32' }, { shape: [4], values: [1, 2, 5, 7], dtype: 'int64' }],
        attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      },
      { op: 'Erf', name: 'Erf on a [2, 3, 2] tensor', inputs: [{ shape: [2, 3, 2] }] },
    ] as GradCase[]
  ).map(f32),
  { op: 'Reshape', name: 'Reshape [2, 3, 4] to [6, 4]', inputs: [{ shape: [2, 3, 4] }, { shape: [2], values: [6, -1], dtype: 'int64' }] },
  { op: 'Flatten', name: 'Flatten from axis 1', inputs: [{ shape: [2, 3, 2] }], attrs: { axis: 1 } },
  { op: 'Squeeze', name: 'Squeeze axis 1', inputs: [{ shape: [2, 1, 3] }, { shape: [1], values: [1], dtype: 'int64' }] },
  { op: 'Unsqueeze', name: 'Unsqueeze axes 0 and 2', inputs: [{ shape: [2, 3] }, { shape: [2], values: [0, 2], dtype: 'int64' }] },
  { op: 'Transpose', name: 'Transpose with perm [2, 0, 1]', inputs: [{ shape: [2, 3, 4] }], attrs: { perm: [2, 0, 1] } },
  { op: 'Transpose', name: 'Transpose with the default (reversing) perm', inputs: [{ shape: [2, 3] }] },
  { op: 'Concat', name: 'Concat of three inputs along axis 1', inputs: [{ shape: [2, 1] }, { shape: [2, 3] }, { shape: [2, 2] }], attrs: { axis: 1 } },
  { op: 'Concat', name: 'Concat with one differentiated input', inputs: [{ shape: [2, 2], grad: false }, { shape: [3, 2] }], attrs: { axis: 0 } },
  { op: 'Split', name: 'Split by sizes, first output', inputs: [{ shape: [2, 6] }, { shape: [2], values: [2, 4], dtype: 'int64' }], attrs: { axis: 1 }, outputs: 2, outputIndex: 0 },
  { op: 'Split', name: 'Split by sizes, second output', inputs: [{ shape: [2, 6] }, { shape: [2], values: [2, 4], dtype: 'int64' }], attrs: { axis: 1 }, outputs: 2, outputIndex: 1 },
  { op: 'Split', name: 'Split into equal parts (opset 18 num_outputs)', inputs: [{ shape: [4, 3] }], attrs: { axis: 0, num_outputs: 2 }, outputs: 2, outputIndex: 1, opset: 18 },
  { op: 'Slice', name: 'Slice with unit steps', inputs: [{ shape: [4, 5] }, { shape: [2], values: [1, 0], dtype: 'int64' }, { shape: [2], values: [3, -1], dtype: 'int64' }] },
  {
    op: 'Slice',
    name: 'Slice with step 2 on one axis',
    inputs: [
      { shape: [3, 6] },
      { shape: [1], values: [1], dtype: 'int64' },
      { shape: [1], values: [6], dtype: 'int64' },
      { shape: [1], values: [1], dtype: 'int64' },
      { shape: [1], values: [2], dtype: 'int64' },
    ],
  },
  {
    op: 'Slice',
    name: 'Slice with a negative step (flip)',
    inputs: [
      { shape: [5] },
      { shape: [1], values: [-1], dtype: 'int64' },
      { shape: [1], values: [-9], dtype: 'int64' },
      { shape: [1], values: [0], dtype: 'int64' },
      { shape: [1], values: [-1], dtype: 'int64' },
    ],
  },
  {
    op: 'Slice',
    name: 'Slice to the end with INT64_MAX-like bounds',
    inputs: [{ shape: [2, 16] }, { shape: [1], values: [8], dtype: 'int64' }, { shape: [1], values: [9.2e18], dtype: 'int64' }, { shape: [1], values: [1], dtype: 'int64' }],
  },
  { op: 'Expand', name: 'Expand [3, 1] to [2, 3, 4]', inputs: [{ shape: [3, 1] }, { shape: [3], values: [2, 3, 4], dtype: 'int64' }] },
  { op: 'Gather', name: 'Gather rows with repeated indices', inputs: [{ shape: [5, 3] }, { shape: [4], values: [0, 3, 3, 1], dtype: 'int64' }] },
  { op: 'Gather', name: 'Gather along axis 1 with 2-D and negative indices', inputs: [{ shape: [2, 4, 3] }, { shape: [2, 2], values: [0, -1, 2, 0], dtype: 'int64' }], attrs: { axis: 1 } },
  {
    op: 'Gather',
    name: 'Gather of many rows with repeats (ScatterND-add path, opset 16+)',
    inputs: [{ shape: [700, 2] }, { shape: [300], values: Array.from({ length: 300 }, (_, i) => (i * 37) % 650), dtype: 'int64' }],
  },
  {
    op: 'Gather',
    name: 'Gather along a middle axis with negative indices (ScatterND-add path)',
    inputs: [{ shape: [2, 400, 1] }, { shape: [200], values: Array.from({ length: 200 }, (_, i) => ((i * 13) % 399) - 200), dtype: 'int64' }],
    attrs: { axis: 1 },
  },
  { op: 'Gather', name: 'Gather with a scalar index', inputs: [{ shape: [4, 3] }, { shape: [], values: [2], dtype: 'int64' }] },
  { op: 'Cast', name: 'Cast float32 to float64', inputs: [{ shape: [2, 3], dtype: 'float32' }], attrs: { to: 11 }, eps: 1e-2, tol: 1e-4 },
  { op: 'Identity', name: 'Identity', inputs: [{ shape: [2, 3] }] },
  { op: 'Dropout', name: 'Dropout in inference mode', inputs: [{ shape: [2, 3] }] },
  { op: 'Where', name: 'Where broadcasts both branches', inputs: [{ shape: [2, 3], values: [1, 0, 1, 0, 0, 1], dtype: 'bool' }, { shape: [2, 3] }, { shape: [3] }] },
  { op: 'Sum', name: 'Sum of three broadcast inputs', inputs: [{ shape: [2, 3] }, { shape: [3] }, { shape: [2, 1] }] },
  {
    op: 'ReduceMean',
    name: 'decomposed LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div) as one composite',
    inputs: [{ shape: [2, 3, 5] }, { shape: [], values: [2] }, { shape: [], values: [1e-5] }],
    attrs: { axes: [-1] },
    arity: 1,
    then: [
      { op: 'Sub', inputs: ['x0', 'y0'] },
      { op: 'Pow', inputs: ['z0', 'x1'] },
      { op: 'ReduceMean', inputs: ['z1'], attrs: { axes: [-1] } },
      { op: 'Add', inputs: ['z2', 'x2'] },
      { op: 'Sqrt', inputs: ['z3'] },
      { op: 'Div', inputs: ['z0', 'z4'] },
    ],
  },
  { op: 'LayerNormalization', name: 'LayerNormalization over the last axis', inputs: [{ shape: [2, 3, 4] }, { shape: [4] }, { shape: [4] }], attrs: { axis: -1, epsilon: 1e-5 } },
  { op: 'LayerNormalization', name: 'LayerNormalization over the last two axes without bias', inputs: [{ shape: [2, 3, 4] }, { shape: [3, 4] }], attrs: { axis: 1 } },
  {
    op: 'GroupNormalization',
    name: 'GroupNormalization with per-group scale (opset 18)',
    inputs: [{ shape: [2, 4, 3, 3] }, { shape: [2] }, { shape: [2] }],
    attrs: { num_groups: 2, epsilon: 1e-5 },
    opset: 18,
  },
  // opset 21 computes its statistics in float32 (stash_type 1) even for double inputs
  f32({ op: 'GroupNormalization', name: 'GroupNormalization with per-channel scale (opset 21)', inputs: [{ shape: [2, 4, 3] }, { shape: [4] }, { shape: [4] }], attrs: { num_groups: 2 }, opset: 21 }),
  { op: 'ReduceMean', name: 'ReduceMean over axes (attribute, opset 17)', inputs: [{ shape: [2, 3, 4] }], attrs: { axes: [1, 2] } },
  {
    op: 'ReduceMean',
    name: 'ReduceMean over an axis input without keepdims (opset 18)',
    inputs: [{ shape: [2, 3, 4] }, { shape: [1], values: [-1], dtype: 'int64' }],
    attrs: { keepdims: 0 },
    opset: 18,
  },
  { op: 'ReduceMean', name: 'ReduceMean over all axes', inputs: [{ shape: [2, 3] }], attrs: { keepdims: 0 } },
  { op: 'ReduceSum', name: 'ReduceSum over axis 0 with keepdims', inputs: [{ shape: [3, 4] }, { shape: [1], values: [0], dtype: 'int64' }] },
  { op: 'ReduceSum', name: 'ReduceSum over two axes without keepdims', inputs: [{ shape: [2, 3, 4] }, { shape: [2], values: [0, 2], dtype: 'int64' }], attrs: { keepdims: 0 } },
  { op: 'ReduceMax', name: 'ReduceMax over one axis (first maximum)', inputs: [{ shape: [3, 5], sampler: 'distinct' }], attrs: { axes: [1], keepdims: 0 } },
  {
    op: 'ReduceMax',
    name: 'ReduceMax over two axes',
    inputs: [
      { shape: [2, 3, 4], sampler: 'distinct' },
      { shape: [2], values: [1, 2], dtype: 'int64' },
    ],
    opset: 18,
  },
  { op: 'Pad', name: 'Pad with constant zeros', inputs: [{ shape: [2, 3] }, { shape: [4], values: [1, 0, 2, 1], dtype: 'int64' }] },
  {
    op: 'Pad',
    name: 'Pad on chosen axes (opset 18)',
    inputs: [{ shape: [2, 3, 2] }, { shape: [2], values: [1, 2], dtype: 'int64' }, { shape: [], omit: true }, { shape: [1], values: [1], dtype: 'int64' }],
    opset: 18,
  },
  { op: 'Floor', name: 'Floor passes no gradient', inputs: [{ shape: [2, 3] }] },
  { op: 'Sign', name: 'Sign passes no gradient', inputs: [{ shape: [2, 3], sampler: 'awayFromZero' }] },
];

describe('gradient rules against central finite differences', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const r = await gradcheck(c);
      expectFullyChecked(c, r);
      if (!['Floor', 'Sign'].includes(c.op)) expect(r.gradNorm).toBeGreaterThan(0);
      else expect(r.gradNorm).toBe(0);
    });
  }

  it('every registered rule has at least one spec row', () => {
    const covered = new Set(CASES.map((c) => c.op));
    const missing = GRADIENT_RULES.filter((r) => r.kind === 'build' && !covered.has(r.opType)).map((r) => r.opType);
    expect(missing).toEqual([]);
  });
});

describe('ops without a gradient rule', () => {
  it('are an error naming the op type and the node', async () => {
    await expect(gradcheck({ op: 'Atan', name: 'Atan has no rule', inputs: [{ shape: [3] }] })).rejects.toThrow("no gradient rule for op Atan at node 'Atan_node'");
  });

  it('are no error when they are off the differentiated path', async () => {
    // Atan feeds only a branch that does not depend on the differentiated input x1
    const c: GradCase = {
      op: 'Atan',
      name: 'Atan on a constant branch',
      inputs: [
        { shape: [3], grad: false, dtype: 'float32' },
        { shape: [3], dtype: 'float32' },
      ],
      arity: 1,
      then: [{ op: 'Mul', inputs: ['y0', 'x1'] }],
      tol: 2e-3,
    };
    const r = await gradcheck(c);
    expectFullyChecked(c, r);
    expect(r.inputs.find((i) => i.input === 'x0')!.skipped[0].reason).toBe('not differentiated (grad: false)');
  });
});

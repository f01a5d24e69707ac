/**
 * The Conv gradient rule on a real WebGPU adapter (a GPU, or Mesa's lavapipe), against central
 * finite differences as test/grad/rules.test.ts checks it on the CPU, for the convolutions whose
 * gradients hit ONNX Runtime's WebGPU Conv "kernel as large as the input" MatMul shortcut (it
 * ignores end pads; see convExplicitPads in autodiff/rules/Conv.ts): the weight gradient of a
 * SAME_UPPER or end-padded conv with stride 1, and the input gradient of a conv whose output is as
 * large as its kernel. Float32 inputs, tolerance 2e-3 with step 1e-2 (rules.test.ts's float32 rows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderChoice, providerChoice, providerChoiceSource, setProviderChoice } from '../../src/main/engine/onnx/providers.js';
import { expectFullyChecked, type GradCase, gradcheck } from '../helpers/gradcheck.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const noWebgpu = await webgpuUnavailable();

const F32 = { dtype: 'float32' as const };

const CASES: GradCase[] = [
  {
    op: 'Conv',
    name: 'Conv with auto_pad SAME_UPPER (2x2 kernel: weight gradient end-padded)',
    inputs: [
      { shape: [1, 2, 5, 5], ...F32 },
      { shape: [2, 2, 2, 2], ...F32 },
    ],
    attrs: { auto_pad: 'SAME_UPPER' },
    tol: 2e-3,
  },
  {
    op: 'Conv',
    name: 'Conv with end pads only',
    inputs: [
      { shape: [1, 2, 4, 5], ...F32 },
      { shape: [3, 2, 2, 3], ...F32 },
      { shape: [3], ...F32 },
    ],
    attrs: { pads: [0, 0, 1, 2] },
    tol: 2e-3,
  },
  {
    op: 'Conv',
    name: 'Conv whose output is as large as its kernel (input gradient end-padded)',
    inputs: [
      { shape: [1, 2, 2, 2], ...F32 },
      { shape: [2, 2, 2, 2], ...F32 },
    ],
    attrs: { pads: [1, 1, 0, 0] },
    tol: 2e-3,
  },
  {
    op: 'Conv',
    name: '1-D Conv with auto_pad SAME_UPPER',
    inputs: [
      { shape: [1, 2, 6], ...F32 },
      { shape: [2, 2, 2], ...F32 },
    ],
    attrs: { auto_pad: 'SAME_UPPER' },
    tol: 2e-3,
  },
];

describe.skipIf(noWebgpu !== null)('Conv gradients on WebGPU', () => {
  let before: { choice: ProviderChoice; source: ReturnType<typeof providerChoiceSource> };
  beforeAll(() => {
    before = { choice: providerChoice(), source: providerChoiceSource() };
    setProviderChoice('webgpu', 'option');
  });
  afterAll(() => setProviderChoice(before.choice, before.source));

  for (const c of CASES) {
    it(
      c.name,
      async () => {
        expectFullyChecked(c, await gradcheck(c));
      },
      60_000,
    );
  }

  it('every case ran on WebGPU', () => {
    expect(providerChoice()).toBe('webgpu');
  });
});

/**
 * Parity with the reference on the tiny DINOv2 fixture (the encoder behind CPM prompts and SD +
 * DINOv2 features): `last_hidden_state` (CLS + 256 patch tokens) for the reference `pixel_values`,
 * within the forward tolerance of the fixtures (1e-4 relative L2), on the provider a parity run
 * forces (SD4MATCH_TEST_PROVIDER) or the one this process resolves to.
 */
import { describe, expect, it } from 'vitest';
import { createSession } from '../../src/main/engine/onnx/runtime.js';
import { caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';

describe.skipIf(!HAVE_FIXTURES)('DINOv2 matches the reference', () => {
  it('last_hidden_state for the reference pixel_values within 1e-4', async () => {
    const session = await createSession(modelPath('dinov2/model.onnx'));
    try {
      const out = await session.run({ pixel_values: caseTensor('dinov2', 'pixel_values') }, ['last_hidden_state']);
      expect(out.last_hidden_state.dims).toEqual(caseTensor('dinov2', 'last_hidden_state').dims);
      expect(relErr(out.last_hidden_state, caseTensor('dinov2', 'last_hidden_state'))).toBeLessThan(1e-4);
      if (process.env.SD4MATCH_TEST_PROVIDER) expect(session.provider).toBe(process.env.SD4MATCH_TEST_PROVIDER);
    } finally {
      await session.dispose();
    }
  });
});

/**
 * Vitest runs every suite in child processes (`forks`): the vm-based pools give each test file its
 * own realm, and onnxruntime-node's `instanceof` checks on typed arrays then reject our tensors.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // SD4MATCH_TEST_PROVIDER forces an execution provider (the WebGPU parity run)
    setupFiles: ['test/helpers/provider-setup.ts'],
    watch: false,
    // Integration and e2e tests start servers, ONNX Runtime sessions and a browser.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
  },
});

/**
 * Build configuration for the three Electron targets (electron-vite 6 / vite 8).
 *
 * - main:     src/main/index.ts, ESM (the package is "type": "module"); dependencies stay external and
 *             are loaded from node_modules at run time. Native addons must never be bundled.
 * - preload:  src/preload/index.ts as CommonJS (`index.cjs`): sandboxed preloads cannot be ES modules,
 *             and they can only `require('electron')`, so nothing else is left external.
 * - renderer: src/renderer/index.html with Svelte 5; served from out/renderer by Electron (file://) and
 *             by `sd4match serve` (browser mode).
 */
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';

/** Native addons: their .node binaries and prebuilt libraries are resolved from node_modules at run time. */
const NATIVE_DEPS = ['onnxruntime-node', 'better-sqlite3', 'sharp'];

const root = import.meta.dirname;

export default defineConfig({
  main: {
    build: {
      externalizeDeps: { include: NATIVE_DEPS },
      rolldownOptions: {
        // job-process: the child process (Electron utilityProcess) each ONNX Runtime job runs in;
        // worker: the job worker thread it hosts (training, evaluation, compiling, Compare inference)
        input: {
          index: resolve(root, 'src/main/index.ts'),
          'job-process': resolve(root, 'src/main/engine/jobs/process-entry.ts'),
          worker: resolve(root, 'src/main/services/jobs/worker-entry.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // Bundle everything the preload imports: a sandboxed preload has no module resolution.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        output: {
          format: 'cjs',
          entryFileNames: '[name].cjs',
          chunkFileNames: 'chunks/[name]-[hash].cjs',
        },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    build: {
      rolldownOptions: {
        input: { index: resolve(root, 'src/renderer/index.html') },
      },
    },
    // Svelte 5 strips `<script lang="ts">` types itself: no preprocessors, so no svelte.config.js.
    plugins: [svelte({ configFile: false })],
  },
});

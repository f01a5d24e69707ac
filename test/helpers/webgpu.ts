/**
 * Whether onnxruntime-node's WebGPU provider runs on this machine (a GPU, or Mesa's lavapipe:
 * `node scripts/lavapipe.mjs` finds or installs it), asked of the engine's own provider probe, for
 * tests that run something on WebGPU and are skipped, with one line saying why, where it cannot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeProvider } from '../../src/main/engine/onnx/runtime.js';

/**
 * The environment WebGPU needs: Mesa and Dawn want a per-user runtime folder (XDG_RUNTIME_DIR), a
 * private 0700 folder under the temp folder when the test process has none. Set on this process
 * (the probe's child and the CLIs a test starts inherit it).
 */
export function webgpuEnv(): Record<string, string> {
  if (process.platform === 'linux' && !process.env.XDG_RUNTIME_DIR) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-xdg-'));
    fs.chmodSync(dir, 0o700);
    process.env.XDG_RUNTIME_DIR = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {};
}

/** Null when WebGPU runs here, else why not (printed, once per call, as the line that says why the tests are skipped). */
export async function webgpuUnavailable(): Promise<string | null> {
  webgpuEnv();
  const s = await probeProvider('webgpu');
  if (!s.error) return null;
  const why = `[skip] WebGPU tests: ${s.error}; run: sudo node scripts/lavapipe.mjs`;
  console.warn(why);
  return why;
}

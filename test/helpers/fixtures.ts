/** Access to the reference fixtures in test/fixtures/tiny (see test/fixtures/README.md). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../src/main/engine/io/npy.js';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tiny');
export const HAVE_FIXTURES = fs.existsSync(path.join(FIXTURES, 'manifest.json'));
export const FIXTURE_SKIP_REASON = `reference fixtures not found at ${FIXTURES}; they are part of the repository (test/fixtures/tiny): is the checkout complete?`;

if (!HAVE_FIXTURES) {
  // Printed once per test file that imports this helper, so a skipped run says why.
  console.warn(`[skip] ${FIXTURE_SKIP_REASON}`);
}

export function modelPath(rel: string): string {
  return path.join(FIXTURES, 'models', rel);
}

export function caseDir(name: string): string {
  return path.join(FIXTURES, 'cases', name);
}

export function caseTensor(name: string, tensor: string): HostTensor {
  return readNpy(path.join(caseDir(name), `${tensor}.npy`));
}

/** ||a - b|| / ||b|| over float data. */
export function relErr(a: HostTensor, b: HostTensor): number {
  if (a.data.length !== b.data.length) throw new Error(`size mismatch: ${a.dims} vs ${b.dims}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.data.length; i++) {
    const x = Number(a.data[i]) - Number(b.data[i]);
    num += x * x;
    den += Number(b.data[i]) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

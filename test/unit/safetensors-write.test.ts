/**
 * Checkpoints and prompt files are written whole or not at all: a write that fails (here the
 * rename, onto a folder of the same name) leaves no temporary file beside the target.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/main/engine/io/safetensors.js';

describe('writeSafetensors', () => {
  it('leaves no temporary file when the write fails, and writes the file whole when it succeeds', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-st-'));
    try {
      const t = { x: { dtype: 'float32' as const, dims: [2], data: new Float32Array([1, 2]) } };
      const blocked = path.join(dir, 'checkpoint.safetensors');
      fs.mkdirSync(blocked);
      expect(() => writeSafetensors(blocked, t, { step: '3' })).toThrow();
      expect(fs.readdirSync(dir)).toEqual(['checkpoint.safetensors']);
      const ok = path.join(dir, 'prompt.safetensors');
      writeSafetensors(ok, t, { step: '4' });
      expect(readSafetensors(ok).metadata.step).toBe('4');
      expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint.safetensors', 'prompt.safetensors']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

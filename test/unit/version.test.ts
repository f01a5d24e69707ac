import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINE_VERSION } from '../../src/main/shared/version.js';
import { repoPath } from '../helpers/paths.js';

describe('ENGINE_VERSION', () => {
  it("equals package.json's version", () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    expect(ENGINE_VERSION).toBe(pkg.version);
  });
});

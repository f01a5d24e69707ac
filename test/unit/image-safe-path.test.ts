import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeDatasetPath, relativePathProblem, resolveInsideRoot } from '../../src/main/engine/images/safe-path.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-safe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('dataset-relative paths', () => {
  it('accepts plain relative paths and refuses absolute, parent, empty and NUL ones', () => {
    expect(relativePathProblem('JPEGImages/cat/a.jpg')).toBeNull();
    expect(relativePathProblem('/etc/passwd')).toMatch(/absolute/);
    expect(relativePathProblem('C:/x.jpg')).toMatch(/absolute/);
    expect(relativePathProblem('a/../../b.jpg')).toMatch(/'\.\.'/);
    expect(relativePathProblem('a//b.jpg')).toMatch(/empty/);
    expect(relativePathProblem('a\\b.jpg')).toMatch(/backslash/);
    expect(relativePathProblem('a\0.jpg')).toMatch(/NUL/);
    expect(relativePathProblem('')).toMatch(/empty/);
  });

  it('normalises paths as datasets write them', () => {
    expect(normalizeDatasetPath('./PF-dataset\\car(G)\\a.png')).toBe('PF-dataset/car(G)/a.png');
  });

  it('resolves inside the root and refuses symlinks that leave it', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(tmp, 'root-')));
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub', 'a.jpg'), 'x');
    fs.writeFileSync(path.join(tmp, 'secret.jpg'), 'x');
    fs.symlinkSync(path.join(tmp, 'secret.jpg'), path.join(root, 'escape.jpg'));
    fs.symlinkSync(path.join(root, 'sub', 'a.jpg'), path.join(root, 'inner.jpg'));
    expect(resolveInsideRoot(root, 'sub/a.jpg')).toBe(path.join(root, 'sub', 'a.jpg'));
    expect(resolveInsideRoot(root, 'inner.jpg')).toBe(path.join(root, 'sub', 'a.jpg'));
    expect(() => resolveInsideRoot(root, 'escape.jpg')).toThrow(/outside the dataset root/);
    expect(() => resolveInsideRoot(root, '../secret.jpg')).toThrow(/contains '\.\.'/);
    expect(() => resolveInsideRoot(root, 'missing.jpg')).toThrow(/does not exist/);
    expect(() => resolveInsideRoot(root, 'sub')).toThrow(/not a file/);
  });
});

/**
 * Publishing cache folders that two processes build at once (cache/publish.ts): the first complete
 * folder stays, byte for byte and inode for inode, so a reader opening its files is never raced;
 * an outdated folder is replaced.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishDir } from '../../src/main/engine/cache/publish.js';

let root: string;
const complete = (d: string) => fs.existsSync(path.join(d, 'manifest.json'));

function built(name: string, content: string, withManifest = true): string {
  const d = path.join(root, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'model.onnx.data'), content);
  if (withManifest) fs.writeFileSync(path.join(d, 'manifest.json'), '{}');
  return d;
}

describe('publishDir', () => {
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-publish-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('moves the first build into place and keeps it when a second build of the same key finishes', () => {
    const dir = path.join(root, 'cache', 'compiled', 'key');
    expect(publishDir(built('tmp-1', 'first'), dir, complete)).toBe('ours');
    const data = path.join(dir, 'model.onnx.data');
    const inode = fs.statSync(data).ino;
    const second = built('tmp-2', 'second');
    expect(publishDir(second, dir, complete)).toBe('theirs');
    expect(fs.readFileSync(data, 'utf8')).toBe('first');
    expect(fs.statSync(data).ino).toBe(inode);
    // the losing build is cleaned up
    expect(fs.existsSync(second)).toBe(false);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['key']);
  });

  it('replaces a folder that is not complete (an older version, a crash before publishing)', () => {
    const dir = path.join(root, 'key');
    fs.renameSync(built('old', 'old', false), dir);
    expect(publishDir(built('tmp', 'new'), dir, complete)).toBe('ours');
    expect(fs.readFileSync(path.join(dir, 'model.onnx.data'), 'utf8')).toBe('new');
    expect(fs.readdirSync(root)).toEqual(['key']);
  });

  it('passes on errors other than an existing folder', () => {
    expect(() => publishDir(path.join(root, 'missing'), path.join(root, 'key'), complete)).toThrow(/ENOENT/);
  });
});

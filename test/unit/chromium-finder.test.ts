/**
 * How `npm test` finds the browser for its browser tests (scripts/chromium.mjs): SD4MATCH_CHROMIUM
 * first and strictly, then the standard install paths of each platform, then the PATH.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, standardPaths } from '../../scripts/chromium.mjs';

let dir: string;

describe('finding Chromium', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-chromium-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes SD4MATCH_CHROMIUM when it names an executable, and refuses one that does not exist', () => {
    const exe = path.join(dir, 'my-chrome');
    fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
    expect(findChromium({ SD4MATCH_CHROMIUM: exe })).toBe(exe);
    expect(() => findChromium({ SD4MATCH_CHROMIUM: path.join(dir, 'typo') })).toThrow(/SD4MATCH_CHROMIUM is .*typo, which is not an executable file/);
    if (process.platform !== 'win32') {
      const plain = path.join(dir, 'not-executable');
      fs.writeFileSync(plain, '');
      fs.chmodSync(plain, 0o644);
      expect(() => findChromium({ SD4MATCH_CHROMIUM: plain })).toThrow(/not an executable file/);
    }
  });

  it("knows each platform's standard install paths", () => {
    expect(standardPaths('linux', {})).toContain('/usr/bin/chromium');
    expect(standardPaths('linux', {})).toContain('/usr/bin/google-chrome');
    expect(standardPaths('darwin', { HOME: '/Users/a' })).toEqual(
      expect.arrayContaining(['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Users/a/Applications/Chromium.app/Contents/MacOS/Chromium']),
    );
    const win = standardPaths('win32', { PROGRAMFILES: 'C:\\Program Files', LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' });
    expect(win).toEqual(expect.arrayContaining(['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Users\\a\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe']));
  });

  it('looks on the PATH after the install paths, and finds nothing where there is nothing', () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    expect(findChromium({ PATH: bin }, [])).toBeNull();
    const exe = path.join(bin, 'chromium-browser');
    fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
    expect(findChromium({ PATH: [path.join(dir, 'none'), bin].join(path.delimiter) }, [])).toBe(exe);
    // an install path wins over the PATH
    const installed = path.join(dir, 'chrome');
    fs.writeFileSync(installed, '#!/bin/sh\n', { mode: 0o755 });
    expect(findChromium({ PATH: bin }, [path.join(dir, 'missing'), installed])).toBe(installed);
  });
});
